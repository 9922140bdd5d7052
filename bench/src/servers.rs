//! The servers under test, as child processes on 127.0.0.1: ours (with
//! authentication switched off, for the comparison only) and the reference
//! `@automerge/automerge-repo-sync-server` from npm.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct RunningServer {
    pub label: &'static str,
    pub url: url::Url,
    pub pid: u32,
    child: Child,
    _data: tempfile::TempDir,
}

impl RunningServer {
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Waits for the line that says the server listens, and returns it.
async fn wait_for_line(
    child: &mut Child,
    what: &str,
    matches: impl Fn(&str) -> bool,
) -> Result<String> {
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await? {
            if matches(&line) {
                return Ok::<_, std::io::Error>(Some(line));
            }
        }
        Ok(None)
    })
    .await
    .with_context(|| format!("{what} did not start within 60 s"))??
    .with_context(|| format!("{what} exited before listening"))?;
    // Keep draining so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(line)
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// `path` as given when absolute, else under the workspace root, so the
/// load generator finds the servers whichever directory it runs from.
pub fn in_workspace(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        workspace_root().join(path)
    }
}

/// Our server, from `bin`, on a fresh data directory, authentication off.
pub async fn start_ours(bin: &Path) -> Result<RunningServer> {
    let data = tempfile::tempdir()?;
    let mut child = Command::new(bin)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--insecure-no-auth-for-benchmarks",
            "--data",
        ])
        .arg(data.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let line = wait_for_line(&mut child, "our server", |l| l.contains("listening on ")).await?;
    let http = line
        .split("listening on ")
        .nth(1)
        .context("no address")?
        .trim();
    let mut url = url::Url::parse(http)?.join("sync")?;
    url.set_scheme("ws")
        .map_err(|_| anyhow::anyhow!("bad scheme"))?;
    Ok(RunningServer {
        label: "fieldvisit-sync-server",
        url,
        pid: child.id().context("no pid")?,
        child,
        _data: data,
    })
}

/// The reference server from npm (installed under `bench/reference`).
pub async fn start_reference(reference_dir: &Path, port: u16) -> Result<RunningServer> {
    let entry =
        reference_dir.join("node_modules/@automerge/automerge-repo-sync-server/src/index.js");
    if !entry.exists() {
        bail!(
            "{} is missing: npm install --prefix {}",
            entry.display(),
            reference_dir.display()
        );
    }
    let data = tempfile::tempdir()?;
    let mut child = Command::new("node")
        .arg(&entry)
        .current_dir(data.path())
        .env("PORT", port.to_string())
        .env("DATA_DIR", data.path().join("amrg"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting node")?;
    wait_for_line(&mut child, "the reference server", |l| {
        l.contains("Listening on port")
    })
    .await?;
    Ok(RunningServer {
        label: "automerge-repo-sync-server",
        url: url::Url::parse(&format!("ws://127.0.0.1:{port}/"))?,
        pid: child.id().context("no pid")?,
        child,
        _data: data,
    })
}

/// A port that was free a moment ago, for the reference server (which
/// cannot be told to pick one itself).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `fieldvisit-sync-server admin --json ...` on a data directory.
pub fn admin(bin: &Path, data: &Path, args: &[&str]) -> Result<serde_json::Value> {
    let out = std::process::Command::new(bin)
        .arg("admin")
        .arg("--data")
        .arg(data)
        .arg("--json")
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .context("running the admin command")?;
    if !out.status.success() {
        bail!("admin {args:?} failed");
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Our server, from `bin`, on `data` as a practice has it (authentication
/// on): the child (killed when dropped) and its address.
pub async fn serve_practice(bin: &Path, data: &Path) -> Result<(Child, String)> {
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the server")?;
    let line = wait_for_line(&mut child, "the server", |l| l.contains("listening on ")).await?;
    let url = line
        .split("listening on ")
        .nth(1)
        .map(|u| u.trim().to_owned())
        .context("no address")?;
    Ok((child, url))
}

/// `admin --json` on the release build (the practice benches' set-up);
/// panics on failure, as a bench cannot go on without it.
pub fn release_admin(data: &Path, args: &[&str]) -> serde_json::Value {
    admin(&release_server_bin(), data, args).expect("admin")
}

/// A string field of an admin command's JSON answer ("" when absent).
pub fn field(v: &serde_json::Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

/// The release build of our server, which the practice benches run.
pub fn release_server_bin() -> PathBuf {
    let bin = workspace_root().join("target/release/fieldvisit-sync-server");
    assert!(
        bin.exists(),
        "{} is missing: cargo build --release -p fieldvisit-sync-server",
        bin.display()
    );
    bin
}
