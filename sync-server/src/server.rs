//! Opening a data directory and running the server on it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fieldvisit_sqlite_store::{Durability, SqliteStorage};

use crate::db::{DatabaseUri, Db};
use crate::error::{Error, Result};
use crate::http::{self, AppState};
use crate::sync::{self, Limits, SyncEngine};

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub web_dir: Option<PathBuf>,
    pub limits: Limits,
    /// The first wait before a failed webhook call is made again; the
    /// later waits and how long to keep trying scale with it (see
    /// [`crate::webhook::Schedule`]). Only tests change it.
    pub webhook_retry_base: Duration,
    /// Proxies whose forwarding headers are believed (`crate::proxy`).
    pub trusted_proxies: Vec<crate::proxy::Cidr>,
}

/// The practice database and the document store of one data directory.
pub struct Data {
    pub db: Db,
    pub storage: SqliteStorage,
}

impl Data {
    pub fn open(data_dir: &Path) -> Result<Self> {
        let uri = DatabaseUri::for_data_dir(data_dir);
        let db = Db::open(&uri)?;
        // Documents in a file of their own: samod writes often, and the
        // practice tables should not queue behind it.
        let storage = SqliteStorage::open(&data_dir.join("documents.sqlite"), Durability::Full)
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok(Data { db, storage })
    }

    /// A samod repo over this data, for one-off admin work while no server runs
    /// (or beside one: samod tolerates two repos on one store).
    pub async fn repo(&self) -> samod::Repo {
        sync::open_repo(self.storage.clone(), self.db.clone()).await
    }
}

pub struct Running {
    pub addr: SocketAddr,
    pub engine: Arc<SyncEngine>,
    pub db: Db,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Waits for ctrl-c, then flushes the document store and stops.
    pub async fn run_until_ctrl_c(self) -> Result<()> {
        let Running { engine, server, .. } = self;
        tokio::select! {
            r = server => {
                r.map_err(|e| Error::Internal(e.to_string()))?.map_err(|e| Error::Internal(e.to_string()))?;
            }
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("stopping: flushing the document store");
            }
        }
        // Stopping waits for the document store's writes; a store that
        // cannot write (a full disk) would keep us here for ever. What it
        // holds was never acknowledged, so devices still have it.
        if tokio::time::timeout(std::time::Duration::from_secs(15), engine.repo.stop())
            .await
            .is_err()
        {
            tracing::error!(
                "stopped with document store writes unfinished (never acknowledged; devices keep those changes)"
            );
        }
        Ok(())
    }
}

pub async fn start(config: Config, data: Data) -> Result<Running> {
    let engine = SyncEngine::start(data.storage, data.db.clone(), config.limits).await?;
    let blobs = crate::blobs::BlobStore::open(&config.data_dir.join("blobs"))?;
    // Uploads a device left unfinished for a day go, now and every hour.
    {
        let (blobs, db) = (blobs.clone(), data.db.clone());
        tokio::spawn(async move {
            loop {
                let (b, d) = (blobs.clone(), db.clone());
                match tokio::task::spawn_blocking(move || b.sweep(&d)).await {
                    Ok(Ok(n)) if n > 0 => tracing::info!(n, "unfinished photo uploads forgotten"),
                    Ok(Err(e)) => tracing::error!(error = %e, "could not sweep unfinished uploads"),
                    _ => {}
                }
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            }
        });
    }
    // Calls queued before a restart are due at once, so this starts with
    // whatever the last run left.
    tokio::spawn(crate::webhook::run(
        data.db.clone(),
        engine.alerts.wake.clone(),
        crate::webhook::Schedule {
            base: config.webhook_retry_base,
        },
    ));
    let health_key = crate::health::write_key(&config.data_dir)?;
    let state = AppState {
        db: data.db.clone(),
        engine: engine.clone(),
        blobs: Arc::new(blobs),
        web_dir: config.web_dir.clone(),
        throttles: Default::default(),
        health_key: Arc::new(health_key),
        trusted_proxies: Arc::new(config.trusted_proxies.clone()),
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::Internal(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let app = http::router(state);
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    Ok(Running {
        addr,
        engine,
        db: data.db,
        server,
    })
}
