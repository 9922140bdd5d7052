//! The server behind the TLS proxy a practice deploys (deploy/), as it ships:
//! one address's bad tokens do not lock out another's devices.

use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fieldvisit_e2e::{Practice, Server};

/// nginx, running `deploy/fieldvisit.nginx.conf` with its `test:` lines
/// pointed at `upstream`, on a loopback port, with a certificate of its own.
struct Proxy {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Proxy {
    fn start(upstream: &str) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=localhost", "-keyout"])
            .arg(d.join("key.pem"))
            .arg("-out")
            .arg(d.join("cert.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(made.success(), "a certificate for the test");
        let port = free_port();
        let shipped = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../deploy/fieldvisit.nginx.conf"),
        )
        .expect("deploy/fieldvisit.nginx.conf");
        let upstream = upstream.trim_start_matches("http://");
        let site: String = shipped
            .lines()
            .map(|line| match line.split("# test: ").nth(1).map(str::trim) {
                Some("listen") => format!("    listen 127.0.0.1:{port} ssl;"),
                Some("certificate") => {
                    format!("    ssl_certificate {};", d.join("cert.pem").display())
                }
                Some("key") => format!("    ssl_certificate_key {};", d.join("key.pem").display()),
                Some("upstream") => format!("        proxy_pass http://{upstream};"),
                _ => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(d.join("site.conf"), site).unwrap();
        let main = format!(
            "daemon off;\nworker_processes 1;\nuser root;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/site.conf;\n}}\n",
            d = d.display()
        );
        std::fs::write(d.join("nginx.conf"), main).unwrap();
        let mut child = Command::new("nginx")
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .arg("-p")
            .arg(d)
            .arg("-e")
            .arg(d.join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx (scripts/setup --tests installs nginx-light)");
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Proxy {
                    child,
                    url: format!("https://127.0.0.1:{port}"),
                    _dir: dir,
                };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "nginx did not listen: {}",
            std::fs::read_to_string(d.join("error.log")).unwrap_or_default()
        );
    }
}

/// An HTTPS client whose connections leave from `from` (any 127.x address
/// is this machine), trusting the test's certificate.
fn client_from(from: &str) -> reqwest::Client {
    use fieldvisit_shared::api::{PROTOCOL_HEADER, PROTOCOL_VERSION};
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(PROTOCOL_HEADER, PROTOCOL_VERSION.into());
    reqwest::Client::builder()
        .default_headers(headers)
        .local_address(from.parse::<IpAddr>().ok())
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_the_proxy_one_addresss_bad_tokens_do_not_lock_out_another() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    practice.assign(&wren);
    let server = Server::start_with(&practice.data(), &["--trusted-proxy", "127.0.0.1"]);
    let proxy = Proxy::start(&server.url);

    // Wren enrols her phone through the proxy, from one address.
    let phone = client_from("127.0.0.3");
    let (_, code) = practice.enrolment_code(&wren);
    let enrolled: serde_json::Value = phone
        .post(format!("{}/api/enrol", proxy.url))
        .json(&serde_json::json!({"code": code, "label": "phone"}))
        .send()
        .await
        .expect("enrolment through the proxy")
        .json()
        .await
        .unwrap();
    let token = enrolled["token"].as_str().expect("a token").to_owned();

    // A stranger, from another address, tries forty bad tokens, and writes
    // Wren's address as theirs in a forwarding header of their own.
    let stranger = client_from("127.0.0.2");
    let mut statuses = Vec::new();
    for n in 0..40 {
        let resp = stranger
            .get(format!("{}/api/cases", proxy.url))
            .header("x-forwarded-for", "127.0.0.3")
            .bearer_auth(format!("not-a-token-{n}"))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses.first(), Some(&401), "{statuses:?}");
    assert_eq!(
        statuses.last(),
        Some(&429),
        "the stranger is limited: {statuses:?}"
    );

    // Wren's phone is not: its cases and its sync ticket, through the proxy.
    let cases = phone
        .get(format!("{}/api/cases", proxy.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(cases.status(), 200);
    let ticket = phone
        .post(format!("{}/api/sync/ticket", proxy.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ticket.status(), 200);
    // The audit log names the stranger's address, not the proxy's.
    let limited = practice.audit("rate_limited");
    assert!(
        limited.iter().any(|e| e["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("127.0.0.2")),
        "{limited:?}"
    );
    // Straight to the server (not a trusted proxy), such a header is not
    // believed either: forty more from a third address, naming Wren's.
    let direct = client_from("127.0.0.4");
    for n in 0..40 {
        direct
            .get(format!("{}/api/cases", server.url))
            .header("x-forwarded-for", "127.0.0.3")
            .bearer_auth(format!("not-a-token-{n}"))
            .send()
            .await
            .unwrap();
    }
    let cases = phone
        .get(format!("{}/api/cases", proxy.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(cases.status(), 200, "Wren's address was never spent");
    // Through the proxy, a stranger learns the verdict alone.
    let health: serde_json::Value = stranger
        .get(format!("{}/health", proxy.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, serde_json::json!({"status": "ok"}));
}
