//! The harness of the end-to-end tests: the real server binary on
//! 127.0.0.1 over a real data directory, administered through its real
//! command line, and devices running the real device core.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::Duration;

use fieldvisit_mobile::DeviceCore;
use serde_json::Value;

pub mod raw;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The server binary, built once per test run if missing or stale.
pub fn server_bin() -> PathBuf {
    static BUILD: Once = Once::new();
    if let Ok(p) = std::env::var("FIELDVISIT_SERVER_BIN") {
        return p.into();
    }
    BUILD.call_once(|| {
        let mut build = Command::new(env!("CARGO"));
        build
            .args(["build", "--quiet", "-p", "fieldvisit-sync-server"])
            .current_dir(workspace_root());
        // Cargo gives a running test its own package's variables. ring's
        // build script reruns when CARGO_MANIFEST_DIR changes, so with them
        // this build and a plain `cargo build` of the server rebuilt the
        // server in turn: on every local run, and once in each CI run.
        for (key, _) in std::env::vars() {
            if key.starts_with("CARGO_PKG_")
                || key.starts_with("CARGO_MANIFEST_")
                || key.starts_with("CARGO_BIN_")
                || matches!(
                    key.as_str(),
                    "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE" | "CARGO_TARGET_TMPDIR"
                )
            {
                build.env_remove(key);
            }
        }
        let status = build.status().expect("cargo build of the server");
        assert!(status.success(), "building fieldvisit-sync-server failed");
    });
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target"));
    target.join("debug").join("fieldvisit-sync-server")
}

/// Runs `fieldvisit-sync-server admin --json ...` on a data directory.
pub fn admin(data: &Path, args: &[&str]) -> Value {
    let out = Command::new(server_bin())
        .arg("admin")
        .arg("--data")
        .arg(data)
        .arg("--json")
        .args(args)
        .output()
        .expect("run admin command");
    assert!(
        out.status.success(),
        "admin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("admin prints JSON")
}

pub fn str_of(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {v}"))
        .to_owned()
}

pub struct Server {
    pub url: String,
    pub data: PathBuf,
    child: Child,
    extra_args: Vec<String>,
}

impl Server {
    pub fn start(data: &Path) -> Server {
        Self::start_with(data, &[])
    }

    pub fn start_with(data: &Path, extra: &[&str]) -> Server {
        Self::spawn(data, extra, Stdio::inherit(), &[])
    }

    /// A server whose log (its standard error) goes to `log`, with `env`.
    pub fn start_logging_to(data: &Path, log: &Path, env: &[(&str, &str)]) -> Server {
        let file = std::fs::File::create(log).expect("create the log file");
        Self::spawn(data, &[], Stdio::from(file), env)
    }

    fn spawn(data: &Path, extra: &[&str], stderr: Stdio, env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(server_bin())
            .arg("serve")
            .arg("--data")
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start server");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.trim().to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            url,
            data: data.to_path_buf(),
            child,
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory now, from `/proc`, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    /// `GET /health`: the status code and the report.
    /// The whole report, as the local command line reads it (with the key
    /// the server wrote into its data directory).
    pub async fn health(&self) -> (u16, Value) {
        let key = std::fs::read_to_string(self.data.join("health.key")).expect("health.key");
        let resp = reqwest::Client::new()
            .get(format!("{}/health", self.url))
            .bearer_auth(key)
            .send()
            .await
            .expect("GET /health");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("a JSON health report"))
    }

    /// `kill -9`: no flush, no goodbye.
    pub fn kill9(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.data.clone()
    }

    pub fn restart_after_kill9(self) -> Server {
        let extra = self.extra_args.clone();
        let data = self.kill9();
        let extra: Vec<&str> = extra.iter().map(|s| s.as_str()).collect();
        Server::start_with(&data, &extra)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A practice with one case and the given people, all set up through the CLI.
pub struct Practice {
    pub dir: tempfile::TempDir,
    pub case_id: String,
    pub case_document_id: String,
}

impl Practice {
    pub fn new() -> Practice {
        Self::in_dir(tempfile::tempdir().unwrap())
    }

    /// A practice whose server data lives in `dir` (a small filesystem, say).
    pub fn in_dir(dir: tempfile::TempDir) -> Practice {
        let case = admin(
            &dir.path().join("server"),
            &[
                "add-case",
                "--reference",
                "TEST-001",
                "--person-name",
                "Casey Synthetic",
            ],
        );
        Practice {
            case_id: str_of(&case, "case_id"),
            case_document_id: str_of(&case, "document_id"),
            dir,
        }
    }

    /// Another case: (case id, case document id).
    pub fn add_case(&self, reference: &str) -> (String, String) {
        let case = admin(
            &self.data(),
            &[
                "add-case",
                "--reference",
                reference,
                "--person-name",
                "Robin Synthetic",
            ],
        );
        (str_of(&case, "case_id"), str_of(&case, "document_id"))
    }

    pub fn assign_to(&self, case_id: &str, person: &str) {
        admin(
            &self.data(),
            &["assign", "--case", case_id, "--person", person],
        );
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("server")
    }

    pub fn person(&self, name: &str, role: &str, supervisor: Option<&str>) -> String {
        let mut args = vec!["add-person", "--name", name, "--role", role];
        if let Some(s) = supervisor {
            args.extend(["--supervisor", s]);
        }
        str_of(&admin(&self.data(), &args), "id")
    }

    pub fn assign(&self, person: &str) {
        admin(
            &self.data(),
            &["assign", "--case", &self.case_id, "--person", person],
        );
    }

    /// A one-time enrolment code: (device id, code).
    pub fn enrolment_code(&self, person: &str) -> (String, String) {
        let e = admin(
            &self.data(),
            &["enrol-device", "--person", person, "--label", "Test phone"],
        );
        (str_of(&e, "device_id"), str_of(&e, "code"))
    }

    /// Enrols a device core for `person` in its own store directory.
    pub async fn device(&self, server: &Server, person: &str, name: &str) -> DeviceCore {
        let (_, code) = self.enrolment_code(person);
        DeviceCore::enrol(&self.dir.path().join(name), &server.url, &code, name, PIN)
            .await
            .expect("enrol device")
    }

    /// A device of `person`'s, online, with its cases fetched: where most
    /// end-to-end tests start.
    pub async fn online_device(&self, server: &Server, person: &str, name: &str) -> DeviceCore {
        let device = self.device(server, person, name).await;
        device.go_online().expect("online");
        device.refresh_cases().await.expect("cases fetched");
        device
    }

    /// A practice with its server running: where most end-to-end tests
    /// start (the admin command line adds people and cases while it runs).
    pub fn serving() -> (Practice, Server) {
        let practice = Practice::new();
        let server = Server::start(&practice.data());
        (practice, server)
    }

    /// Someone of `role` (under `supervisor`) assigned to the case, with a
    /// device `device` online and its cases fetched: (person id, device).
    pub async fn online(
        &self,
        server: &Server,
        name: &str,
        role: &str,
        supervisor: Option<&str>,
        device: &str,
    ) -> (String, DeviceCore) {
        let person = self.person(name, role, supervisor);
        self.assign(&person);
        let core = self.online_device(server, &person, device).await;
        (person, core)
    }

    /// A worker on the case with a phone online: (person id, phone).
    pub async fn worker_online(&self, server: &Server, name: &str) -> (String, DeviceCore) {
        self.online(server, name, "worker", None, "phone").await
    }

    /// A new visit on the case, made on `device`.
    pub async fn visit(&self, device: &DeviceCore) -> String {
        device
            .create_visit(&self.case_id, fieldvisit_shared::records::PlaceKind::Home)
            .await
            .expect("a visit made")
    }

    pub fn audit(&self, action: &str) -> Vec<Value> {
        let entries = admin(&self.data(), &["audit", "--action", action]);
        entries
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("the audit log as a JSON array, not {entries}"))
    }
}

impl Default for Practice {
    fn default() -> Self {
        Self::new()
    }
}

pub const SYNC_TIMEOUT: Duration = Duration::from_secs(20);

/// The PIN every test device is enrolled with.
pub const PIN: &str = "472913";

/// Writes `text` into a visit's observations and waits until the server
/// has it: the device still syncs.
pub async fn still_serving(device: &DeviceCore, visit: &str, text: &str) {
    device
        .set_text(
            visit,
            fieldvisit_shared::records::TextField::Observations,
            text,
        )
        .await
        .unwrap();
    device.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
}

/// Waits until `check` holds, polling; panics with `what` after the timeout.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + SYNC_TIMEOUT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
