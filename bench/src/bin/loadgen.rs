//! fieldvisit-loadgen: N simulated devices writing visit documents against
//! a sync server on 127.0.0.1; each device writes D documents, each
//! document shared by K devices (K = 1: every device only its own), each
//! writer editing each of its documents C times.
//!
//! Each writer's edits to a document are made one after another, each
//! waiting for the server to acknowledge it (samod's shared heads include
//! it), as a person typing and syncing would; all documents of all devices
//! run at once. A shared document is created by its first writer and found
//! on the server by the others. When every edit is acknowledged and every
//! writer of a document holds the same heads, a second reader connects and
//! fetches every document until it holds exactly those heads: that is full
//! convergence.
//!
//! `run` measures one server that is already running; `compare` starts ours
//! (authentication off, for the comparison only) and the reference
//! JavaScript server, runs the same workload against both in one run and
//! prints both rows and the ratio; `sweep` does that for several K, each
//! run on a fresh server process.
//!
//! `idle` measures something else: the server memory each idle connection
//! costs. On a fresh server one samod device creates a small visit, then N
//! bare WebSocket peers (a few KiB each on the client) join, fetch it and
//! sit idle; the server's RSS before and after, over N, is what one
//! connection costs it, ours against the reference.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use automerge::ReadDoc;
use automerge::transaction::Transactable;
use clap::{Parser, Subcommand};
use fieldvisit_bench::client::{self, Bytes, Device};
use fieldvisit_bench::stats::{cpu_seconds, file_descriptors, percentile, rss};
use fieldvisit_bench::table::{Table, mib, ms};
use fieldvisit_bench::{servers, synthetic_visit};
use fieldvisit_shared::doc;
use fieldvisit_shared::records::TextField;
use futures::StreamExt;
use samod::{DocHandle, DocumentId};
use tokio::task::JoinSet;

/// Longest any one wait may take before the run is declared failed.
const PATIENCE: Duration = Duration::from_secs(120);

/// How often a waiter looks again at heads that are still moving.
const POLL: Duration = Duration::from_millis(10);

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone, Copy, Debug)]
struct Workload {
    /// Simulated devices (N); a multiple of --sharing.
    #[arg(long, default_value_t = 50)]
    devices: usize,
    /// Visit documents each device writes (D). With --sharing K the devices
    /// form N/K groups of K, and each group shares D documents: N/K x D
    /// documents in all (N x D when K = 1, one set per device).
    #[arg(long, default_value_t = 10)]
    docs: usize,
    /// Edits each writer makes to each of its documents (C): a document
    /// gets K x C edits, the run N x D x C whatever K is.
    #[arg(long, default_value_t = 100)]
    edits: usize,
    /// Devices writing each document (K). The first creates it, the others
    /// find it on the server; each appends its own words to the visit's
    /// observations, so their edits merge.
    #[arg(long, default_value_t = 1)]
    sharing: usize,
}

impl Workload {
    fn check(&self) -> Result<()> {
        if self.devices == 0 || self.docs == 0 || self.edits == 0 || self.sharing == 0 {
            bail!("--devices, --docs, --edits and --sharing must each be at least 1");
        }
        if !self.devices.is_multiple_of(self.sharing) {
            bail!(
                "--devices {} is not a multiple of --sharing {}: every document needs {} writers",
                self.devices,
                self.sharing,
                self.sharing
            );
        }
        Ok(())
    }
    fn groups(&self) -> usize {
        self.devices / self.sharing
    }
    fn documents(&self) -> usize {
        self.groups() * self.docs
    }
    fn edits(&self) -> usize {
        self.devices * self.docs * self.edits
    }
}

#[derive(clap::Args, Clone, Copy)]
struct Limit {
    /// Longest a run's work (first edit to the reader's convergence) may
    /// take; past it the run is stopped and reported as not finished.
    #[arg(long, default_value_t = 900)]
    limit_secs: u64,
}

impl Limit {
    fn duration(self) -> Duration {
        Duration::from_secs(self.limit_secs)
    }
}

#[derive(clap::Args, Clone)]
struct Servers {
    /// Our server binary (build it with --release).
    #[arg(long, default_value = "target/release/fieldvisit-sync-server")]
    server_bin: PathBuf,
    /// Where `@automerge/automerge-repo-sync-server` is installed.
    #[arg(long, default_value = "bench/reference")]
    reference_dir: PathBuf,
}

impl Servers {
    fn resolved(&self) -> (PathBuf, PathBuf) {
        (
            servers::in_workspace(&self.server_bin),
            servers::in_workspace(&self.reference_dir),
        )
    }
}

#[derive(Subcommand)]
enum Command {
    /// Runs the workload against a server that is already running.
    Run {
        /// WebSocket URL of the sync endpoint, on 127.0.0.1.
        #[arg(long)]
        url: url::Url,
        /// The server's process id, to report its peak memory and CPU time.
        #[arg(long)]
        server_pid: Option<u32>,
        #[arg(long, default_value = "server")]
        label: String,
        #[command(flatten)]
        workload: Workload,
        #[command(flatten)]
        limit: Limit,
    },
    /// Starts ours and the reference server and runs the workload on each.
    Compare {
        #[command(flatten)]
        servers: Servers,
        #[command(flatten)]
        workload: Workload,
        #[command(flatten)]
        limit: Limit,
    },
    /// For each number of devices per document, runs ours then the
    /// reference on the same workload, each on a fresh server process.
    ///
    /// Default workloads per K (devices, documents each device writes,
    /// edits each writer makes; documents in all; edits in all):
    /// 1: 50, 1, 1200 (50 documents, 60,000 edits);
    /// 3: 48, 1, 400 (16, 19,200); 10: 50, 2, 100 (10, 10,000);
    /// 20: 40, 2, 50 (4, 4,000); 50: 50, 2, 25 (2, 2,500); any other K:
    /// the largest multiple of K up to 50 devices (at least K), 1, 40.
    Sweep {
        /// Devices per document (K) to measure, in order.
        #[arg(long, value_delimiter = ',', default_value = "1,3,10,20,50")]
        points: Vec<usize>,
        /// Devices (N) at every point instead of the defaults, rounded down
        /// to a multiple of K (and at least K).
        #[arg(long)]
        devices: Option<usize>,
        /// Documents each device writes (D) at every point.
        #[arg(long)]
        docs: Option<usize>,
        /// Edits each writer makes to each document (C) at every point.
        #[arg(long)]
        edits: Option<usize>,
        #[command(flatten)]
        servers: Servers,
        #[command(flatten)]
        limit: Limit,
    },
    /// Server memory per idle connection, ours then the reference at each
    /// number of connections, each on a fresh server process.
    Idle {
        /// Idle connections (N) to hold open at each point, in order.
        #[arg(long, value_delimiter = ',', default_value = "2000,10000")]
        connections: Vec<usize>,
        /// Connections joining at once: enough for a quick run, few enough
        /// that neither server's accept queue overflows.
        #[arg(long, default_value_t = 200)]
        batch: usize,
        /// Quiet seconds before each memory reading, so that work the
        /// server defers (storage writes, freed buffers) is done. Our
        /// server's memory can still grow after 3 s (a one-off jump within
        /// about 20 s at 2,000 peers): --settle-secs 30 reads it settled.
        #[arg(long, default_value_t = 3)]
        settle_secs: u64,
        /// Longest one peer may take to join and get its document, past
        /// which the point fails rather than stalling the run. Generous:
        /// a server whose cost per joining peer grows with the peers
        /// already on the document answers the last of 10,000 in over a
        /// minute, and its memory is still worth measuring.
        #[arg(long, default_value_t = 300)]
        patience_secs: u64,
        #[command(flatten)]
        servers: Servers,
    },
}

/// Traffic at the clients' sockets during a run, the reader's included.
#[derive(Clone, Copy, Default)]
struct Traffic {
    bytes_sent: u64,
    bytes_received: u64,
    messages_sent: u64,
    messages_received: u64,
}

impl Traffic {
    fn of(bytes: &Bytes) -> Self {
        Traffic {
            bytes_sent: bytes.sent.load(Ordering::Relaxed),
            bytes_received: bytes.received.load(Ordering::Relaxed),
            messages_sent: bytes.messages_sent.load(Ordering::Relaxed),
            messages_received: bytes.messages_received.load(Ordering::Relaxed),
        }
    }
}

struct Row {
    label: String,
    workload: Workload,
    wall: Duration,
    latencies: Vec<Duration>,
    traffic: Traffic,
    /// CPU seconds the server process used during the run.
    server_cpu: Option<f64>,
    /// CPU seconds the load generator itself used during the run: its
    /// devices' samod work competes with the server for the same 2 cores.
    client_cpu: Option<f64>,
    peak_rss: Option<u64>,
}

impl Row {
    fn edits(&self) -> usize {
        self.workload.edits()
    }
    fn edits_per_second(&self) -> f64 {
        self.edits() as f64 / self.wall.as_secs_f64()
    }
    fn p(&self, q: f64) -> Duration {
        percentile(&self.latencies, q).unwrap_or_default()
    }
    fn per_edit(&self, n: u64) -> f64 {
        n as f64 / self.edits() as f64
    }
    fn server_cpu_per_edit(&self) -> Option<f64> {
        self.server_cpu.map(|s| s / self.edits() as f64)
    }
    fn client_cpu_per_edit(&self) -> Option<f64> {
        self.client_cpu.map(|s| s / self.edits() as f64)
    }
    fn messages_per_edit(&self) -> f64 {
        self.per_edit(self.traffic.messages_sent + self.traffic.messages_received)
    }
}

/// One measured run of a sweep, or why there is no measurement.
enum Point {
    Done(Row),
    DidNotFinish {
        label: String,
        workload: Workload,
        limit: Duration,
    },
    Failed {
        label: String,
        workload: Workload,
    },
}

impl Point {
    fn row(&self) -> Option<&Row> {
        match self {
            Point::Done(row) => Some(row),
            _ => None,
        }
    }
}

/// A document's id, the heads all its writers ended with, and the
/// acknowledgement times of all its edits.
type Written = (DocumentId, Vec<automerge::ChangeHash>, Vec<Duration>);

/// One document's life: its first writer creates it, the others find it,
/// then every writer makes its C acknowledged edits at once.
async fn share_document(writers: Vec<Arc<Device>>, case: usize, edits: usize) -> Result<Written> {
    let creator = writers.first().context("a group without devices")?.clone();
    let handle = creator
        .repo
        .create(synthetic_visit(&format!("case-{case}")))
        .await
        .map_err(|_| anyhow::anyhow!("repo stopped"))?;
    let id = handle.document_id().clone();
    if writers.len() > 1 {
        // The others look it up on the server: only once the server holds
        // it does every lookup find it the first time, so both servers are
        // measured on the same messages rather than on retries.
        tokio::time::timeout(PATIENCE, handle.they_have_our_changes(creator.connection))
            .await
            .with_context(|| format!("the server did not take the new document {id} in 120 s"))?;
    }
    let mut editing = JoinSet::new();
    editing.spawn(edit_document(creator, handle, 0, edits));
    for (writer, device) in writers.iter().enumerate().skip(1) {
        let device = device.clone();
        let id = id.clone();
        editing.spawn(async move {
            let handle = find_until_found(&device, &id).await?;
            edit_document(device, handle, writer, edits).await
        });
    }
    let mut handles = Vec::with_capacity(writers.len());
    let mut latencies = Vec::with_capacity(writers.len() * edits);
    while let Some(done) = editing.join_next().await {
        let (handle, l) = done??;
        handles.push(handle);
        latencies.extend(l);
    }
    let heads = writers_agree(&id, &handles).await?;
    Ok((id, heads, latencies))
}

/// A writer's C edits, each acknowledged before the next. Each appends
/// this writer's own word at the end of the observations as they stand
/// now, merged text included, so concurrent appends merge rather than
/// overwrite. The first writer's words are those a lone device has always
/// written.
async fn edit_document(
    device: Arc<Device>,
    handle: DocHandle,
    writer: usize,
    edits: usize,
) -> Result<(DocHandle, Vec<Duration>)> {
    let path = TextField::Observations.path();
    let tag = if writer == 0 {
        String::new()
    } else {
        format!("d{writer}-")
    };
    let mut latencies = Vec::with_capacity(edits);
    for i in 0..edits {
        handle.with_document(|d| -> Result<()> {
            let word = format!("{tag}word{i} ");
            match doc::text_at(d, path)? {
                // Typing at the note's end: the ops `update_text` would send
                // for the whole note plus this word, without reading and
                // diffing the whole note on every edit (at 1,200 edits that
                // cost the client more CPU than the server spent).
                Some(text) => {
                    let mut tx = d.transaction();
                    let end = tx.length(&text);
                    tx.splice_text(&text, end, 0, &word)?;
                    tx.commit();
                }
                None => doc::update_text(d, path, &word)?,
            }
            Ok(())
        })?;
        let started = Instant::now();
        tokio::time::timeout(PATIENCE, handle.they_have_our_changes(device.connection))
            .await
            .context("an edit was not acknowledged within 120 s")?;
        latencies.push(started.elapsed());
    }
    Ok((handle, latencies))
}

/// A device that did not create the document looks it up until the server
/// has it.
async fn find_until_found(device: &Device, id: &DocumentId) -> Result<DocHandle> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let found = tokio::time::timeout(PATIENCE, device.repo.find(id.clone()))
            .await
            .with_context(|| format!("looking up {id} took over 120 s"))?
            .map_err(|_| anyhow::anyhow!("repo stopped"))?;
        if let Some(handle) = found {
            return Ok(handle);
        }
        if Instant::now() > deadline {
            bail!("a writer never found {id} on the server within 120 s");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Every writer acknowledged is not yet every writer up to date: each must
/// also receive the others' last edits. Their common heads are the union
/// of everything written, which the reader must then reach.
async fn writers_agree(
    id: &DocumentId,
    handles: &[DocHandle],
) -> Result<Vec<automerge::ChangeHash>> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut all: Vec<Vec<automerge::ChangeHash>> = handles
            .iter()
            .map(|h| {
                let mut heads = h.with_document(|d| d.get_heads());
                heads.sort();
                heads
            })
            .collect();
        all.dedup();
        if let [heads] = all.as_slice() {
            return Ok(heads.clone());
        }
        if Instant::now() > deadline {
            bail!(
                "the {} writers of {id} never converged: {} different heads 120 s after \
                 their last edits were acknowledged",
                handles.len(),
                all.len()
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A fresh reader fetches each document until it has the writers' heads.
async fn read_everything(
    reader: &Device,
    expected: &[(DocumentId, Vec<automerge::ChangeHash>)],
) -> Result<()> {
    let mut waits = JoinSet::new();
    for (id, want) in expected {
        let repo = reader.repo.clone();
        let id = id.clone();
        let want = want.clone();
        waits.spawn(async move {
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
                    bail!(
                        "the reader never converged on {id}: it did not reach the heads \
                         its writers agree on within 120 s"
                    );
                }
                tokio::time::sleep(POLL).await;
            }
        });
    }
    while let Some(done) = waits.join_next().await {
        done??;
    }
    Ok(())
}

/// From the first edit to the reader's convergence; the edits' latencies.
/// Dropping it (at the time limit) aborts every task it started.
async fn exercise(
    url: &url::Url,
    devices: &[Arc<Device>],
    bytes: Arc<Bytes>,
    w: Workload,
    reader: &Mutex<Option<Arc<Device>>>,
) -> Result<Vec<Duration>> {
    let mut documents = JoinSet::new();
    for (g, writers) in devices.chunks(w.sharing).enumerate() {
        for d in 0..w.docs {
            documents.spawn(share_document(writers.to_vec(), g * w.docs + d, w.edits));
        }
    }
    let mut latencies = Vec::with_capacity(w.edits());
    let mut written = Vec::with_capacity(w.documents());
    while let Some(done) = documents.join_next().await {
        let (id, heads, l) = done??;
        latencies.extend(l);
        written.push((id, heads));
    }
    let fresh = Arc::new(client::connect(url, "bench-reader", bytes).await?);
    if let Ok(mut slot) = reader.lock() {
        *slot = Some(fresh.clone());
    }
    read_everything(&fresh, &written).await?;
    Ok(latencies)
}

/// One run; `None` when it did not finish within `limit`.
async fn run_workload(
    label: &str,
    url: &url::Url,
    pid: Option<u32>,
    w: Workload,
    limit: Duration,
) -> Result<Option<Row>> {
    client::loopback_only(url)?;
    w.check()?;
    let bytes = Arc::new(Bytes::default());
    let mut devices = Vec::with_capacity(w.devices);
    for n in 0..w.devices {
        match client::connect(url, &format!("bench-device-{n}"), bytes.clone()).await {
            Ok(device) => devices.push(Arc::new(device)),
            Err(e) => {
                stop_all(&devices, None).await;
                return Err(e);
            }
        }
    }
    let reader = Mutex::new(None);
    let server_before = pid.and_then(|p| cpu_seconds(Some(p)));
    let client_before = cpu_seconds(None);
    let started = Instant::now();
    let outcome =
        tokio::time::timeout(limit, exercise(url, &devices, bytes.clone(), w, &reader)).await;
    let wall = started.elapsed();
    let server_after = pid.and_then(|p| cpu_seconds(Some(p)));
    let client_after = cpu_seconds(None);
    let traffic = Traffic::of(&bytes);
    let peak_rss = pid.and_then(rss).map(|(_, peak)| peak);
    let reader = reader.lock().ok().and_then(|mut r| r.take());
    stop_all(&devices, reader).await;
    let mut latencies = match outcome {
        Err(_) => return Ok(None),
        Ok(done) => done?,
    };
    latencies.sort();
    let spent = |before: Option<f64>, after: Option<f64>| Some(after? - before?);
    Ok(Some(Row {
        label: label.to_owned(),
        workload: w,
        wall,
        latencies,
        traffic,
        server_cpu: spent(server_before, server_after),
        client_cpu: spent(client_before, client_after),
        peak_rss,
    }))
}

/// Stopped repos stop dialling, so a run that failed or ran out of time
/// leaves nothing behind to load the next one.
async fn stop_all(devices: &[Arc<Device>], reader: Option<Arc<Device>>) {
    for d in devices.iter().chain(reader.as_ref()) {
        d.repo.stop().await;
    }
}

/// A run for `run` and `compare`, where running out of time is an error.
async fn run_or_fail(
    label: &str,
    url: &url::Url,
    pid: Option<u32>,
    w: Workload,
    limit: Limit,
) -> Result<Row> {
    match run_workload(label, url, pid, w, limit.duration()).await? {
        Some(row) => Ok(row),
        None => bail!(
            "{label} did not finish within --limit-secs {}",
            limit.limit_secs
        ),
    }
}

/// The table `run` and `compare` have always printed; a column of writers
/// per document only when documents are shared, so runs without sharing
/// print as before.
fn table(rows: &[Row]) -> Table {
    let shared = rows.iter().any(|r| r.workload.sharing > 1);
    let mut headers = vec!["server", "devices"];
    if shared {
        headers.push("writers / document");
    }
    headers.extend([
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
    let mut t = Table::new(&headers);
    for r in rows {
        let mut cells = vec![r.label.clone(), r.workload.devices.to_string()];
        if shared {
            cells.push(r.workload.sharing.to_string());
        }
        cells.extend([
            r.workload.documents().to_string(),
            r.edits().to_string(),
            format!("{:.2}", r.wall.as_secs_f64()),
            format!("{:.0}", r.edits_per_second()),
            ms(r.p(50.0)),
            ms(r.p(99.0)),
            mib(r.traffic.bytes_sent),
            mib(r.traffic.bytes_received),
            r.peak_rss.map(mib).unwrap_or_else(|| "-".into()),
        ]);
        t.row(cells);
    }
    t
}

/// Seconds per 1,000 edits, or "-" when the figure could not be read.
fn per_thousand(per_edit: Option<f64>) -> String {
    per_edit
        .map(|s| format!("{:.2}", s * 1000.0))
        .unwrap_or_else(|| "-".into())
}

/// What each edit cost: CPU on both sides and traffic both ways.
fn cost_cells(r: &Row) -> Vec<String> {
    vec![
        per_thousand(r.server_cpu_per_edit()),
        per_thousand(r.client_cpu_per_edit()),
        format!("{:.1}", r.per_edit(r.traffic.messages_sent)),
        format!("{:.1}", r.per_edit(r.traffic.messages_received)),
        format!("{:.0}", r.per_edit(r.traffic.bytes_sent)),
        format!("{:.0}", r.per_edit(r.traffic.bytes_received)),
    ]
}

const COST_HEADERS: [&str; 6] = [
    "server CPU s / 1k edits",
    "client CPU s / 1k edits",
    "msgs sent / edit",
    "msgs received / edit",
    "bytes sent / edit",
    "bytes received / edit",
];

fn cost_table(rows: &[Row]) -> Table {
    let mut headers = vec!["server"];
    headers.extend(COST_HEADERS);
    let mut t = Table::new(&headers);
    for r in rows {
        let mut cells = vec![r.label.clone()];
        cells.extend(cost_cells(r));
        t.row(cells);
    }
    t
}

fn sweep_table(points: &[Point]) -> Table {
    let mut headers = vec![
        "K",
        "server",
        "devices",
        "documents",
        "edits",
        "wall s",
        "edits/s",
        "ack p50 ms",
        "ack p99 ms",
    ];
    headers.extend(COST_HEADERS);
    headers.push("peak server RSS MiB");
    let mut t = Table::new(&headers);
    for p in points {
        let (label, w, outcome) = match p {
            Point::Done(r) => (&r.label, r.workload, None),
            Point::DidNotFinish {
                label,
                workload,
                limit,
            } => (
                label,
                *workload,
                Some(format!("did not finish in {} s", limit.as_secs())),
            ),
            Point::Failed { label, workload } => (label, *workload, Some("failed".to_owned())),
        };
        let mut cells = vec![
            w.sharing.to_string(),
            label.clone(),
            w.devices.to_string(),
            w.documents().to_string(),
            w.edits().to_string(),
        ];
        match (p.row(), outcome) {
            (Some(r), _) => {
                cells.extend([
                    format!("{:.2}", r.wall.as_secs_f64()),
                    format!("{:.0}", r.edits_per_second()),
                    ms(r.p(50.0)),
                    ms(r.p(99.0)),
                ]);
                cells.extend(cost_cells(r));
                cells.push(r.peak_rss.map(mib).unwrap_or_else(|| "-".into()));
            }
            (None, why) => {
                cells.push(why.unwrap_or_default());
                cells.extend(std::iter::repeat_n("-".to_owned(), headers.len() - 6));
            }
        }
        t.row(cells);
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

fn ratio_of(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(o), Some(t)) => ratio(o, t),
        _ => "-".into(),
    }
}

/// The default workload of a sweep point, sized so that each takes about a
/// minute on the reference server (from its edits per second at small
/// sizes): the more writers share a document, the more each edit costs
/// (every edit goes out to K - 1 others), so the edits shrink as K grows.
fn point_workload(
    k: usize,
    devices: Option<usize>,
    docs: Option<usize>,
    edits: Option<usize>,
) -> Workload {
    let (n, d, c) = match k {
        1 => (50, 1, 1200),
        3 => (48, 1, 400),
        10 => (50, 2, 100),
        20 => (40, 2, 50),
        50 => (50, 2, 25),
        _ => (50, 1, 40),
    };
    let n = devices.unwrap_or(n);
    Workload {
        devices: (n - n % k.max(1)).max(k),
        docs: docs.unwrap_or(d),
        edits: edits.unwrap_or(c),
        sharing: k,
    }
}

/// One run on a server process of its own, stopped afterwards; a failed
/// run is told on stderr and kept as a row, so one point cannot lose the
/// whole sweep's measurements.
async fn sweep_run(
    ours: bool,
    bin: &std::path::Path,
    reference: &std::path::Path,
    w: Workload,
    limit: Duration,
) -> Result<Point> {
    let server = if ours {
        servers::start_ours(bin).await?
    } else {
        servers::start_reference(reference, servers::free_port()?).await?
    };
    eprintln!(
        "loadgen: K={}: {} ({} devices, {} documents, {} edits)",
        w.sharing,
        server.label,
        w.devices,
        w.documents(),
        w.edits()
    );
    let outcome = run_workload(server.label, &server.url, Some(server.pid), w, limit).await;
    let label = server.label.to_owned();
    server.stop().await;
    Ok(match outcome {
        Ok(Some(row)) => {
            eprintln!(
                "loadgen:   {:.1} s, {:.0} edits/s",
                row.wall.as_secs_f64(),
                row.edits_per_second()
            );
            Point::Done(row)
        }
        Ok(None) => {
            eprintln!("loadgen:   did not finish in {} s", limit.as_secs());
            Point::DidNotFinish {
                label,
                workload: w,
                limit,
            }
        }
        Err(e) => {
            eprintln!("loadgen:   FAILED: {e:#}");
            Point::Failed { label, workload: w }
        }
    })
}

/// File descriptors a run needs beyond one per connection: the owner's
/// socket, the listener, storage and whatever the runtime holds.
const SPARE_DESCRIPTORS: u64 = 64;

/// How an `idle` point paces itself (see the subcommand's options).
#[derive(Clone, Copy)]
struct IdleTiming {
    batch: usize,
    settle: Duration,
    patience: Duration,
}

/// One point of `idle`: the server's memory with one document and one
/// device, and again with N idle peers on top.
struct IdleRow {
    connections: usize,
    baseline: u64,
    with_connections: u64,
    peak: u64,
}

impl IdleRow {
    /// What one connection cost, in KiB; negative only if the server gave
    /// memory back meanwhile, which is shown rather than hidden.
    fn kib_per_connection(&self) -> f64 {
        (self.with_connections as f64 - self.baseline as f64) / 1024.0 / self.connections as f64
    }
}

/// A measured idle point, or why there is none.
type IdleOutcome = (&'static str, usize, Result<IdleRow, String>);

/// Both processes need a descriptor per connection: said before opening
/// any, with the limit to raise, since the server side of running out
/// shows only as connections that are never accepted.
fn check_descriptors(server: &servers::RunningServer, n: usize) -> Result<()> {
    let need = n as u64 + SPARE_DESCRIPTORS;
    for (who, pid) in [
        ("the load generator", None),
        (server.label, Some(server.pid)),
    ] {
        let (open, limit) = file_descriptors(pid).with_context(|| {
            format!("could not read the open files limit of {who} (/proc/…/limits)")
        })?;
        if open + need > limit {
            bail!(
                "{n} connections need {need} more file descriptors in {who}, which has {open} \
                 open of its limit of {limit} (ulimit -n): raise it (ulimit -n {}) or measure \
                 fewer connections",
                open + need
            );
        }
    }
    Ok(())
}

/// The current open files limit, for errors that may be "too many open
/// files".
fn ulimit_note(server_pid: u32) -> String {
    let limit = |pid| {
        file_descriptors(pid)
            .map(|(open, limit)| format!("{open} open of {limit}"))
            .unwrap_or_else(|| "unknown".into())
    };
    format!(
        "ulimit -n: load generator {}, server {}",
        limit(None),
        limit(Some(server_pid))
    )
}

/// The server's (current, peak) RSS, or why not.
fn server_rss(server: &servers::RunningServer) -> Result<(u64, u64)> {
    rss(server.pid)
        .with_context(|| format!("{} exited (no /proc/{}/status)", server.label, server.pid))
}

/// One point on a running server: the owner creates the visit, then the
/// idle peers join and fetch it, a batch at a time, and stay. The peers'
/// tasks go into the caller's `peers` rather than ending here, so the
/// caller can stop the server first: its side then closes first, and our
/// loopback ports are free again at once for the next point.
async fn measure_idle(
    server: &servers::RunningServer,
    n: usize,
    timing: IdleTiming,
    peers: &mut JoinSet<()>,
) -> Result<IdleRow> {
    check_descriptors(server, n)?;
    let owner =
        client::connect(&server.url, "bench-idle-owner", Arc::new(Bytes::default())).await?;
    let outcome = hold_idle(server, &owner, n, timing, peers).await;
    // Stopped whatever happened, so it does not go on dialling a server
    // that is gone while the next point runs.
    owner.repo.stop().await;
    outcome
}

/// [`measure_idle`] once the owner is connected.
async fn hold_idle(
    server: &servers::RunningServer,
    owner: &Device,
    n: usize,
    timing: IdleTiming,
    peers: &mut JoinSet<()>,
) -> Result<IdleRow> {
    let handle = owner
        .repo
        .create(synthetic_visit("case-idle"))
        .await
        .map_err(|_| anyhow::anyhow!("repo stopped"))?;
    tokio::time::timeout(PATIENCE, handle.they_have_our_changes(owner.connection))
        .await
        .context("the server did not acknowledge the visit within 120 s")?;
    let fetch = Arc::new(client::Fetch::new(handle.document_id().to_string())?);
    tokio::time::sleep(timing.settle).await;
    let (baseline, _) = server_rss(server)?;

    let idling = Arc::new(client::Idling::default());
    let started = Instant::now();
    let url = &server.url;
    let mut opening = futures::stream::iter(0..n)
        .map(|i| {
            let fetch = fetch.clone();
            async move {
                client::open_idle(url, &format!("bench-idle-{i}"), &fetch, timing.patience)
                    .await
                    .with_context(|| format!("idle peer {i}"))
            }
        })
        .buffer_unordered(timing.batch.max(1));
    let mut opened = 0;
    while let Some(socket) = opening.next().await {
        let socket = socket.with_context(|| {
            format!(
                "after {opened} of {n} connections were open ({})",
                ulimit_note(server.pid)
            )
        })?;
        peers.spawn(client::stay_idle(socket, idling.clone()));
        opened += 1;
        // Progress in fifths: how the time to join grows with the number
        // already open tells a server whose cost per peer grows with them.
        if opened % (n / 5).max(1) == 0 && opened < n {
            eprintln!(
                "loadgen:   {opened} open, {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    drop(opening);
    eprintln!(
        "loadgen:   {n} connections open and fetched in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(timing.settle).await;
    let (with_connections, peak) = server_rss(server)?;
    let closed = idling.closed.load(Ordering::Relaxed);
    if closed > 0 {
        bail!("the server closed {closed} of the {n} idle connections before the reading");
    }
    let count = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let (pings, messages, bytes) = (
        count(&idling.pings),
        count(&idling.messages),
        count(&idling.bytes),
    );
    if pings + messages > 0 {
        eprintln!(
            "loadgen:   meanwhile the idle peers answered {pings} pings and got {messages} \
             other messages ({bytes} bytes)"
        );
    }
    Ok(IdleRow {
        connections: n,
        baseline,
        with_connections,
        peak,
    })
}

/// One idle point on a server process of its own; a failure is told on
/// stderr and kept, so the sweep goes on.
async fn idle_point(
    ours: bool,
    bin: &std::path::Path,
    reference: &std::path::Path,
    n: usize,
    timing: IdleTiming,
) -> IdleOutcome {
    let label = if ours {
        "fieldvisit-sync-server"
    } else {
        "automerge-repo-sync-server"
    };
    eprintln!("loadgen: {n} idle connections: {label}");
    let server = if ours {
        servers::start_ours(bin).await
    } else {
        match servers::free_port() {
            Ok(port) => servers::start_reference(reference, port).await,
            Err(e) => Err(e),
        }
    };
    let outcome = match server {
        Err(e) => Err(e),
        Ok(server) => {
            let mut peers = JoinSet::new();
            let outcome = measure_idle(&server, n, timing, &mut peers).await;
            server.stop().await;
            peers.shutdown().await;
            outcome
        }
    };
    match outcome {
        Ok(row) => {
            eprintln!(
                "loadgen:   {:.1} KiB per connection",
                row.kib_per_connection()
            );
            (label, n, Ok(row))
        }
        Err(e) => {
            eprintln!("loadgen:   FAILED: {e:#}");
            (label, n, Err(format!("{e:#}")))
        }
    }
}

fn idle_table(points: &[IdleOutcome]) -> Table {
    let headers = [
        "server",
        "connections",
        "baseline RSS MiB",
        "RSS MiB with connections",
        "KiB per connection",
        "peak RSS MiB",
    ];
    let mut t = Table::new(&headers);
    for (label, n, outcome) in points {
        let mut cells = vec![label.to_string(), n.to_string()];
        match outcome {
            Ok(r) => cells.extend([
                mib(r.baseline),
                mib(r.with_connections),
                format!("{:.1}", r.kib_per_connection()),
                mib(r.peak),
            ]),
            Err(_) => {
                cells.push("failed".into());
                cells.extend(std::iter::repeat_n("-".to_owned(), headers.len() - 3));
            }
        }
        t.row(cells);
    }
    t
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Run {
            url,
            server_pid,
            label,
            workload,
            limit,
        } => {
            let row = run_or_fail(&label, &url, server_pid, workload, limit).await?;
            let rows = [row];
            println!("{}\n", table(&rows).render());
            println!("{}", cost_table(&rows).render());
        }
        Command::Compare {
            servers: paths,
            workload,
            limit,
        } => {
            workload.check()?;
            let (bin, reference) = paths.resolved();

            eprintln!("loadgen: our server, authentication off for this comparison only");
            let ours = servers::start_ours(&bin).await?;
            let ours_row =
                run_or_fail(ours.label, &ours.url, Some(ours.pid), workload, limit).await;
            ours.stop().await;
            let ours_row = ours_row?;

            eprintln!("loadgen: the reference @automerge/automerge-repo-sync-server");
            let theirs = servers::start_reference(&reference, servers::free_port()?).await?;
            let theirs_row =
                run_or_fail(theirs.label, &theirs.url, Some(theirs.pid), workload, limit).await;
            theirs.stop().await;

            let rows = [ours_row, theirs_row?];
            println!("{}\n", table(&rows).render());
            println!("{}\n", cost_table(&rows).render());
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
                "server CPU per edit".into(),
                ratio_of(o.server_cpu, t.server_cpu),
                "lower".into(),
            ]);
            r.row(vec![
                "messages per edit".into(),
                ratio(o.messages_per_edit(), t.messages_per_edit()),
                "lower".into(),
            ]);
            r.row(vec![
                "bytes sent + received".into(),
                ratio(
                    (o.traffic.bytes_sent + o.traffic.bytes_received) as f64,
                    (t.traffic.bytes_sent + t.traffic.bytes_received) as f64,
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
        Command::Sweep {
            points,
            devices,
            docs,
            edits,
            servers: paths,
            limit,
        } => {
            let workloads: Vec<Workload> = points
                .iter()
                .map(|&k| point_workload(k, devices, docs, edits))
                .collect();
            for w in &workloads {
                w.check()?;
            }
            let (bin, reference) = paths.resolved();
            eprintln!("loadgen: our server runs with authentication off for this sweep only");
            let mut measured = Vec::with_capacity(2 * workloads.len());
            for &w in &workloads {
                for ours in [true, false] {
                    measured.push(sweep_run(ours, &bin, &reference, w, limit.duration()).await?);
                }
            }
            println!("{}\n", sweep_table(&measured).render());
            let mut r = Table::new(&[
                "K",
                "edits/s ours / ref (higher is better)",
                "server CPU per edit ours / ref (lower)",
                "ack p50 ours / ref (lower)",
                "messages per edit ours / ref (lower)",
            ]);
            for pair in measured.chunks(2) {
                let [o, t] = pair else { continue };
                let k = match o {
                    Point::Done(r) => r.workload.sharing,
                    Point::DidNotFinish { workload, .. } | Point::Failed { workload, .. } => {
                        workload.sharing
                    }
                };
                let cells = match (o.row(), t.row()) {
                    (Some(o), Some(t)) => vec![
                        ratio(o.edits_per_second(), t.edits_per_second()),
                        ratio_of(o.server_cpu_per_edit(), t.server_cpu_per_edit()),
                        ratio(o.p(50.0).as_secs_f64(), t.p(50.0).as_secs_f64()),
                        ratio(o.messages_per_edit(), t.messages_per_edit()),
                    ],
                    _ => vec!["-".into(); 4],
                };
                let mut row = vec![k.to_string()];
                row.extend(cells);
                r.row(row);
            }
            println!("{}", r.render());
            let failed = measured
                .iter()
                .filter(|p| matches!(p, Point::Failed { .. }))
                .count();
            if failed > 0 {
                bail!("{failed} run(s) of the sweep failed (their errors are above)");
            }
        }
        Command::Idle {
            connections,
            batch,
            settle_secs,
            patience_secs,
            servers: paths,
        } => {
            if connections.contains(&0) {
                bail!("--connections must each be at least 1");
            }
            let (bin, reference) = paths.resolved();
            let timing = IdleTiming {
                batch,
                settle: Duration::from_secs(settle_secs),
                patience: Duration::from_secs(patience_secs),
            };
            eprintln!("loadgen: our server runs with authentication off for this measurement only");
            let mut measured = Vec::with_capacity(2 * connections.len());
            for &n in &connections {
                for ours in [true, false] {
                    measured.push(idle_point(ours, &bin, &reference, n, timing).await);
                }
            }
            println!("{}\n", idle_table(&measured).render());
            let mut r = Table::new(&[
                "connections",
                "KiB per connection ours / ref (lower is better)",
                "RSS with connections ours / ref (lower)",
            ]);
            for pair in measured.chunks(2) {
                let [(_, n, o), (_, _, t)] = pair else {
                    continue;
                };
                let cells = match (o, t) {
                    (Ok(o), Ok(t)) => vec![
                        ratio(o.kib_per_connection(), t.kib_per_connection()),
                        ratio(o.with_connections as f64, t.with_connections as f64),
                    ],
                    _ => vec!["-".into(); 2],
                };
                let mut row = vec![n.to_string()];
                row.extend(cells);
                r.row(row);
            }
            println!("{}", r.render());
            let failed: Vec<String> = measured
                .iter()
                .filter_map(|(label, n, o)| {
                    o.as_ref().err().map(|e| format!("{label} at {n}: {e}"))
                })
                .collect();
            if !failed.is_empty() {
                bail!("{} point(s) failed:\n{}", failed.len(), failed.join("\n"));
            }
        }
    }
    Ok(())
}
