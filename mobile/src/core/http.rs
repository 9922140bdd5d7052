//! HTTP requests to the practice server: reqwest natively, and in the
//! browser the page's own `fetch`. reqwest would call `fetch` there too,
//! but its wrapper and the `http` crate it brings were about 10 KB of
//! brotli on a phone's first download (BENCHMARKS.md).

use bytes::Bytes;
use futures::Stream;

use super::CoreError;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
}

impl Method {
    #[cfg(target_arch = "wasm32")]
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

/// A request: everything is owned, so it can cross an await.
pub(crate) struct Request {
    method: Method,
    url: url::Url,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
}

impl Request {
    pub fn new(method: Method, url: url::Url) -> Self {
        Request {
            method,
            url,
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn json<T: serde::Serialize>(self, value: &T) -> Result<Self, CoreError> {
        let body = serde_json::to_vec(value).map_err(|e| CoreError::Protocol(e.to_string()))?;
        Ok(self.header("content-type", "application/json").body(body))
    }

    pub fn body(mut self, bytes: Vec<u8>) -> Self {
        self.body = Some(bytes);
        self
    }
}

/// A whole answer.
pub(crate) struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    headers: Headers,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        headers::get(&self.headers, name)
    }
}

/// An answer whose body is read as it comes (server-sent events), or the
/// whole answer when the server refused.
pub(crate) enum Streamed<S> {
    Open(S),
    Refused(Response),
}

fn offline(e: impl std::fmt::Display) -> CoreError {
    CoreError::Offline(e.to_string())
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::Client;
#[cfg(not(target_arch = "wasm32"))]
use native::{Headers, headers};

#[cfg(target_arch = "wasm32")]
pub(crate) use browser::Client;
#[cfg(target_arch = "wasm32")]
use browser::{Headers, headers};

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::*;
    use futures::StreamExt;

    pub(super) type Headers = reqwest::header::HeaderMap;

    pub(super) mod headers {
        pub fn get(headers: &super::Headers, name: &str) -> Option<String> {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        }
    }

    #[derive(Clone)]
    pub(crate) struct Client(reqwest::Client);

    impl Client {
        pub fn new() -> Result<Self, CoreError> {
            reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(20))
                .build()
                .map(Client)
                .map_err(|e| CoreError::Protocol(e.to_string()))
        }

        async fn start(&self, req: Request) -> Result<reqwest::Response, CoreError> {
            let method = match req.method {
                Method::Get => reqwest::Method::GET,
                Method::Post => reqwest::Method::POST,
                Method::Put => reqwest::Method::PUT,
            };
            let mut builder = self.0.request(method, req.url);
            for (name, value) in req.headers {
                builder = builder.header(name, value);
            }
            if let Some(body) = req.body {
                builder = builder.body(body);
            }
            builder.send().await.map_err(offline)
        }

        async fn whole(resp: reqwest::Response) -> Result<Response, CoreError> {
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.map_err(offline)?.to_vec();
            Ok(Response {
                status,
                body,
                headers,
            })
        }

        pub async fn send(&self, req: Request) -> Result<Response, CoreError> {
            Self::whole(self.start(req).await?).await
        }

        pub async fn open(
            &self,
            req: Request,
        ) -> Result<Streamed<impl Stream<Item = Result<Bytes, CoreError>> + Send + use<>>, CoreError>
        {
            let resp = self.start(req).await?;
            if !resp.status().is_success() {
                return Ok(Streamed::Refused(Self::whole(resp).await?));
            }
            Ok(Streamed::Open(
                resp.bytes_stream().map(|chunk| chunk.map_err(offline)),
            ))
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod browser {
    use super::*;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    pub(super) type Headers = web_sys::Headers;

    pub(super) mod headers {
        pub fn get(headers: &super::Headers, name: &str) -> Option<String> {
            headers.get(name).ok().flatten()
        }
    }

    /// What the browser said went wrong, as a sentence.
    fn said(e: JsValue) -> String {
        e.dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| e.as_string())
            .unwrap_or_else(|| "the browser could not reach the server".to_owned())
    }

    #[derive(Clone)]
    pub(crate) struct Client;

    impl Client {
        pub fn new() -> Result<Self, CoreError> {
            Ok(Client)
        }

        async fn start(
            &self,
            req: Request,
            signal: Option<&web_sys::AbortSignal>,
        ) -> Result<web_sys::Response, CoreError> {
            let init = web_sys::RequestInit::new();
            init.set_method(req.method.as_str());
            init.set_signal(signal);
            let headers = web_sys::Headers::new().map_err(|e| offline(said(e)))?;
            for (name, value) in &req.headers {
                headers
                    .set(name, value)
                    .map_err(|e| CoreError::Protocol(said(e)))?;
            }
            init.set_headers(&headers);
            if let Some(body) = &req.body {
                init.set_body(&js_sys::Uint8Array::from(body.as_slice()));
            }
            let request = web_sys::Request::new_with_str_and_init(req.url.as_str(), &init)
                .map_err(|e| CoreError::Protocol(said(e)))?;
            let window = web_sys::window().ok_or_else(|| offline("no browser window"))?;
            JsFuture::from(window.fetch_with_request(&request))
                .await
                .map_err(|e| offline(said(e)))?
                .dyn_into::<web_sys::Response>()
                .map_err(|_| offline("fetch answered with something not a response"))
        }

        async fn whole(resp: web_sys::Response) -> Result<Response, CoreError> {
            let buffer = JsFuture::from(resp.array_buffer().map_err(|e| offline(said(e)))?)
                .await
                .map_err(|e| offline(said(e)))?;
            Ok(Response {
                status: resp.status(),
                body: js_sys::Uint8Array::new(&buffer).to_vec(),
                headers: resp.headers(),
            })
        }

        pub async fn send(&self, req: Request) -> Result<Response, CoreError> {
            Self::whole(self.start(req, None).await?).await
        }

        /// The stream holds the request's abort: dropping it closes the
        /// connection. Left open, each dropped alert stream would keep one of
        /// the browser's six connections to the server, and one of the
        /// server's few alert streams for this device, until the server went.
        pub async fn open(
            &self,
            req: Request,
        ) -> Result<Streamed<impl Stream<Item = Result<Bytes, CoreError>> + use<>>, CoreError>
        {
            let abort =
                Abort(web_sys::AbortController::new().map_err(|e| CoreError::Protocol(said(e)))?);
            let resp = self.start(req, Some(&abort.0.signal())).await?;
            if !resp.ok() {
                return Ok(Streamed::Refused(Self::whole(resp).await?));
            }
            let reader = resp
                .body()
                .ok_or_else(|| offline("the answer has no body"))?
                .get_reader()
                .dyn_into::<web_sys::ReadableStreamDefaultReader>()
                .map_err(|_| offline("the answer's body cannot be read"))?;
            Ok(Streamed::Open(futures::stream::unfold(
                Some((reader, abort)),
                |open| async move {
                    let (reader, abort) = open?;
                    let next = async {
                        let chunk = JsFuture::from(reader.read())
                            .await
                            .map_err(|e| offline(said(e)))?;
                        let done = js_sys::Reflect::get(&chunk, &"done".into())
                            .map(|d| d.is_truthy())
                            .unwrap_or(true);
                        if done {
                            return Ok(None);
                        }
                        let value = js_sys::Reflect::get(&chunk, &"value".into())
                            .map_err(|e| offline(said(e)))?;
                        Ok(Some(Bytes::from(js_sys::Uint8Array::new(&value).to_vec())))
                    };
                    match next.await {
                        Ok(Some(bytes)) => Some((Ok(bytes), Some((reader, abort)))),
                        Ok(None) => None,
                        // The error ends the stream after it is told.
                        Err(e) => Some((Err(e), None)),
                    }
                },
            )))
        }
    }

    /// Aborts its request when dropped.
    struct Abort(web_sys::AbortController);

    impl Drop for Abort {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
}
