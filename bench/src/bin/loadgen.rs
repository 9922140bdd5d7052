//! fieldvisit-loadgen: N simulated devices, each with D visit documents,
//! each document edited C times, against a sync server on 127.0.0.1.
//!
//! Each document's edits are made one after another, each waiting for the
//! server to acknowledge it (samod's shared heads include it), as a person
//! typing and syncing would; all documents of all devices run at once.
//! When every edit is acknowledged, a second reader connects and fetches
//! every document until it holds exactly the writers' heads: that is full
//! convergence.
//!
//! `run` measures one server that is already running; `compare` starts ours
//! (authentication off, for the comparison only) and the reference
//! JavaScript server, runs the same workload against both in one run and
//! prints both rows and the ratio.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use fieldvisit_bench::client::{self, Bytes};
use fieldvisit_bench::stats::{percentile, rss};
use fieldvisit_bench::table::{Table, mib, ms};
use fieldvisit_bench::{servers, synthetic_visit};
use fieldvisit_shared::doc;
use fieldvisit_shared::records::TextField;

/// Longest any one wait may take before the run is declared failed.
const PATIENCE: Duration = Duration::from_secs(120);

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone, Copy)]
struct Workload {
    /// Simulated devices (N).
    #[arg(long, default_value_t = 50)]
    devices: usize,
    /// Visit documents per device (D).
    #[arg(long, default_value_t = 10)]
    docs: usize,
    /// Edits per document (C).
    #[arg(long, default_value_t = 100)]
    edits: usize,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the workload against a server that is already running.
    Run {
        /// WebSocket URL of the sync endpoint, on 127.0.0.1.
        #[arg(long)]
        url: url::Url,
        /// The server's process id, to report its peak memory.
        #[arg(long)]
        server_pid: Option<u32>,
        #[arg(long, default_value = "server")]
        label: String,
        #[command(flatten)]
        workload: Workload,
    },
    /// Starts ours and the reference server and runs the workload on each.
    Compare {
        /// Our server binary (build it with --release).
        #[arg(long, default_value = "target/release/fieldvisit-sync-server")]
        server_bin: PathBuf,
        /// Where `@automerge/automerge-repo-sync-server` is installed.
        #[arg(long, default_value = "bench/reference")]
        reference_dir: PathBuf,
        #[command(flatten)]
        workload: Workload,
    },
}

struct Row {
    label: String,
    workload: Workload,
    wall: Duration,
    latencies: Vec<Duration>,
    bytes_sent: u64,
    bytes_received: u64,
    peak_rss: Option<u64>,
}

impl Row {
    fn edits(&self) -> usize {
        self.workload.devices * self.workload.docs * self.workload.edits
    }
    fn edits_per_second(&self) -> f64 {
        self.edits() as f64 / self.wall.as_secs_f64()
    }
    fn p(&self, q: f64) -> Duration {
        percentile(&self.latencies, q).unwrap_or_default()
    }
}

/// One document's life on a writer: create, then C acknowledged edits.
async fn write_document(
    device: Arc<client::Device>,
    case: usize,
    edits: usize,
) -> Result<(String, Vec<automerge::ChangeHash>, Vec<Duration>)> {
    let handle = device
        .repo
        .create(synthetic_visit(&format!("case-{case}")))
        .await
        .map_err(|_| anyhow::anyhow!("repo stopped"))?;
    let mut text = String::new();
    let mut latencies = Vec::with_capacity(edits);
    for i in 0..edits {
        text.push_str(&format!("word{i} "));
        handle.with_document(|doc| doc::update_text(doc, TextField::Observations.path(), &text))?;
        let started = Instant::now();
        tokio::time::timeout(PATIENCE, handle.they_have_our_changes(device.connection))
            .await
            .context("an edit was not acknowledged within 120 s")?;
        latencies.push(started.elapsed());
    }
    let heads = handle.with_document(|doc| doc.get_heads());
    Ok((handle.document_id().to_string(), heads, latencies))
}

/// A fresh reader fetches each document until it has the writers' heads.
async fn read_everything(
    url: &url::Url,
    bytes: Arc<Bytes>,
    expected: &[(String, Vec<automerge::ChangeHash>)],
) -> Result<()> {
    let reader = client::connect(url, "bench-reader", bytes).await?;
    let mut waits = Vec::new();
    for (id, heads) in expected {
        let repo = reader.repo.clone();
        let id: samod::DocumentId = id.parse().map_err(|_| anyhow::anyhow!("bad id {id}"))?;
        let mut want = heads.clone();
        want.sort();
        waits.push(tokio::spawn(async move {
            let deadline = Instant::now() + PATIENCE;
            loop {
                if let Some(handle) = repo
                    .find(id.clone())
                    .await
                    .map_err(|_| anyhow::anyhow!("stopped"))?
                {
                    let mut have = handle.with_document(|d| d.get_heads());
                    have.sort();
                    if have == want {
                        return Ok::<_, anyhow::Error>(());
                    }
                }
                if Instant::now() > deadline {
                    bail!("the reader never converged on {id}");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }));
    }
    for w in waits {
        w.await??;
    }
    reader.repo.stop().await;
    Ok(())
}

async fn run_workload(label: &str, url: &url::Url, pid: Option<u32>, w: Workload) -> Result<Row> {
    client::loopback_only(url)?;
    let bytes = Arc::new(Bytes::default());
    let mut devices = Vec::with_capacity(w.devices);
    for n in 0..w.devices {
        devices.push(Arc::new(
            client::connect(url, &format!("bench-device-{n}"), bytes.clone()).await?,
        ));
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (n, device) in devices.iter().enumerate() {
        for d in 0..w.docs {
            tasks.push(tokio::spawn(write_document(
                device.clone(),
                n * w.docs + d,
                w.edits,
            )));
        }
    }
    let mut latencies = Vec::with_capacity(w.devices * w.docs * w.edits);
    let mut written = Vec::new();
    for t in tasks {
        let (id, heads, l) = t.await??;
        latencies.extend(l);
        written.push((id, heads));
    }
    read_everything(url, bytes.clone(), &written).await?;
    let wall = started.elapsed();
    let peak_rss = pid.and_then(rss).map(|(_, peak)| peak);
    for d in devices {
        d.repo.stop().await;
    }
    latencies.sort();
    Ok(Row {
        label: label.to_owned(),
        workload: w,
        wall,
        latencies,
        bytes_sent: bytes.sent.load(Ordering::Relaxed),
        bytes_received: bytes.received.load(Ordering::Relaxed),
        peak_rss,
    })
}

fn table(rows: &[Row]) -> Table {
    let mut t = Table::new(&[
        "server",
        "devices",
        "documents",
        "edits",
        "wall s",
        "edits/s",
        "ack p50 ms",
        "ack p99 ms",
        "sent MiB",
        "received MiB",
        "peak server RSS MiB",
    ]);
    for r in rows {
        t.row(vec![
            r.label.clone(),
            r.workload.devices.to_string(),
            (r.workload.devices * r.workload.docs).to_string(),
            r.edits().to_string(),
            format!("{:.2}", r.wall.as_secs_f64()),
            format!("{:.0}", r.edits_per_second()),
            ms(r.p(50.0)),
            ms(r.p(99.0)),
            mib(r.bytes_sent),
            mib(r.bytes_received),
            r.peak_rss.map(mib).unwrap_or_else(|| "-".into()),
        ]);
    }
    t
}

fn ratio(ours: f64, theirs: f64) -> String {
    if theirs == 0.0 {
        "-".into()
    } else {
        format!("{:.2}", ours / theirs)
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Run {
            url,
            server_pid,
            label,
            workload,
        } => {
            let row = run_workload(&label, &url, server_pid, workload).await?;
            println!("{}", table(&[row]).render());
        }
        Command::Compare {
            server_bin,
            reference_dir,
            workload,
        } => {
            let root = servers::workspace_root();
            let bin = if server_bin.is_absolute() {
                server_bin
            } else {
                root.join(server_bin)
            };
            let reference = if reference_dir.is_absolute() {
                reference_dir
            } else {
                root.join(reference_dir)
            };

            eprintln!("loadgen: our server, authentication off for this comparison only");
            let ours = servers::start_ours(&bin).await?;
            let ours_row = run_workload(ours.label, &ours.url, Some(ours.pid), workload).await?;
            ours.stop().await;

            eprintln!("loadgen: the reference @automerge/automerge-repo-sync-server");
            let theirs = servers::start_reference(&reference, servers::free_port()?).await?;
            let theirs_row =
                run_workload(theirs.label, &theirs.url, Some(theirs.pid), workload).await?;
            theirs.stop().await;

            let rows = [ours_row, theirs_row];
            println!("{}\n", table(&rows).render());
            let (o, t) = (&rows[0], &rows[1]);
            let mut r = Table::new(&["ours / reference", "ratio", "better is"]);
            r.row(vec![
                "wall time".into(),
                ratio(o.wall.as_secs_f64(), t.wall.as_secs_f64()),
                "lower".into(),
            ]);
            r.row(vec![
                "edits/s".into(),
                ratio(o.edits_per_second(), t.edits_per_second()),
                "higher".into(),
            ]);
            r.row(vec![
                "ack p50".into(),
                ratio(o.p(50.0).as_secs_f64(), t.p(50.0).as_secs_f64()),
                "lower".into(),
            ]);
            r.row(vec![
                "ack p99".into(),
                ratio(o.p(99.0).as_secs_f64(), t.p(99.0).as_secs_f64()),
                "lower".into(),
            ]);
            r.row(vec![
                "bytes sent + received".into(),
                ratio(
                    (o.bytes_sent + o.bytes_received) as f64,
                    (t.bytes_sent + t.bytes_received) as f64,
                ),
                "lower".into(),
            ]);
            if let (Some(a), Some(b)) = (o.peak_rss, t.peak_rss) {
                r.row(vec![
                    "peak server RSS".into(),
                    ratio(a as f64, b as f64),
                    "lower".into(),
                ]);
            }
            println!("{}", r.render());
        }
    }
    Ok(())
}
