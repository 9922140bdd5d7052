use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fieldvisit_shared::api::Role;
use fieldvisit_sync_server::server::{self, Config, Data};
use fieldvisit_sync_server::sync::{self, Limits};
use fieldvisit_sync_server::{demo, practice, webhook};
use serde::Serialize;

#[derive(Parser)]
#[command(
    name = "fieldvisit-sync-server",
    version,
    about = "Fieldvisit's sync server: one shared case record for the practice"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve sync, the API and the web app.
    Serve {
        #[arg(long, default_value = "./fieldvisit-data")]
        data: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Seed a synthetic practice (first run) and print demo sign-in codes.
        #[arg(long)]
        demo: bool,
        /// The built web app to serve at `/`.
        #[arg(long, env = "FIELDVISIT_WEB_DIR")]
        web: Option<PathBuf>,
        /// Largest sync message accepted; larger ones close the connection with a reason.
        #[arg(long, default_value_t = sync::DEFAULT_MAX_MESSAGE_BYTES)]
        max_message_bytes: usize,
        /// Open sync connections one device may hold at once.
        #[arg(long, default_value_t = 4)]
        max_connections_per_device: usize,
        /// Unload documents nothing has touched for this many seconds from
        /// memory (they load again from storage when next needed).
        #[arg(long, default_value_t = 600)]
        unload_idle_after_seconds: u64,
        /// A TLS proxy in front of the server (repeatable; an address or a
        /// block such as 10.0.0.0/8): only from these are X-Forwarded-For
        /// and Forwarded believed, so the limits per address apply to the
        /// clients behind it, not to the proxy. See deploy/README.md.
        #[arg(long = "trusted-proxy", value_name = "CIDR")]
        trusted_proxies: Vec<fieldvisit_sync_server::proxy::Cidr>,
        /// FOR TESTS ONLY: the document actor of this document panics on
        /// every sync message, to show that the others keep syncing.
        /// Refused unless listening on a loopback address.
        #[arg(long, hide = true)]
        test_panic_on_document: Option<String>,
        /// FOR BENCHMARKS ONLY: accept /sync without a ticket and share every
        /// document with everyone, as the reference JavaScript server does.
        /// Refused unless listening on a loopback address.
        #[arg(long)]
        insecure_no_auth_for_benchmarks: bool,
        /// FOR TESTS: the first wait before a failed safeguarding webhook call
        /// is made again, in milliseconds. Later waits, and how long the server
        /// keeps trying (450 times this: 75 minutes at the default), scale with it.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
        webhook_retry_base_ms: u64,
    },
    /// Practice administration on the data directory (works with or without a running server).
    Admin {
        #[arg(long, default_value = "./fieldvisit-data", global = true)]
        data: PathBuf,
        /// Print JSON, for scripts.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        action: Admin,
    },
}

#[derive(Subcommand)]
enum Admin {
    AddPerson {
        #[arg(long)]
        name: String,
        /// worker, supervisor or admin
        #[arg(long)]
        role: String,
        /// The supervisor's person id (workers only).
        #[arg(long)]
        supervisor: Option<String>,
    },
    AddCase {
        #[arg(long)]
        reference: String,
        #[arg(long)]
        person_name: String,
    },
    Assign {
        #[arg(long = "case")]
        case_id: String,
        #[arg(long = "person")]
        person_id: String,
    },
    /// End an assignment: the person's devices stop syncing the case.
    Unassign {
        #[arg(long = "case")]
        case_id: String,
        #[arg(long = "person")]
        person_id: String,
    },
    /// Give a worker another supervisor (or none, without --supervisor).
    SetSupervisor {
        #[arg(long = "person")]
        person_id: String,
        #[arg(long)]
        supervisor: Option<String>,
    },
    /// Issue a one-time enrolment code for a new device of a person.
    EnrolDevice {
        #[arg(long = "person")]
        person_id: String,
        #[arg(long, default_value = "Phone")]
        label: String,
    },
    /// Revoke a device: its connections close and its token stops working.
    RevokeDevice {
        #[arg(long = "device")]
        device_id: String,
    },
    /// A person's devices: last seen, last synced, what each held unsent.
    Devices {
        #[arg(long = "person")]
        person_id: String,
    },
    /// Call a URL when a safeguarding concern arrives (signed; see the
    /// `ConcernWebhook` API docs). Prints the signing secret, this once only.
    Webhook {
        /// Where to POST each concern (http or https).
        #[arg(long, required_unless_present = "remove", conflicts_with = "remove")]
        url: Option<String>,
        /// Stop calling the webhook; calls still queued are given up.
        #[arg(long)]
        remove: bool,
    },
    /// The number a worker phones a safeguarding concern in to when the
    /// app cannot send it (every device keeps it for when it has no signal).
    SafeguardingPhone {
        #[arg(long)]
        phone: String,
    },
    /// Show the audit log, newest first.
    Audit {
        #[arg(long)]
        action: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

fn print<T: Serialize>(
    json: bool,
    value: &T,
    human: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(value)?);
    } else {
        println!("{}", human(value));
    }
    Ok(())
}

/// A number a worker can dial from the app: digits and the usual
/// separators, nothing that could smuggle markup or a URL into every device.
fn check_phone(phone: &str) -> Result<String, String> {
    let phone = phone.trim();
    let allowed = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')');
    if !(3..=30).contains(&phone.chars().count()) {
        return Err(format!(
            "a phone number has 3 to 30 characters, not {}",
            phone.chars().count()
        ));
    }
    if let Some(c) = phone.chars().find(|&c| !allowed(c)) {
        return Err(format!(
            "a phone number has digits, spaces, +, -, ( and ) only, not {c:?}"
        ));
    }
    if !phone.chars().any(|c| c.is_ascii_digit()) {
        return Err("a phone number needs digits".into());
    }
    Ok(phone.to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                "fieldvisit_sync_server=info,fieldvisit_sqlite_store=info,samod=warn".into()
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve {
            data,
            listen,
            demo,
            web,
            max_message_bytes,
            max_connections_per_device,
            unload_idle_after_seconds,
            test_panic_on_document,
            insecure_no_auth_for_benchmarks,
            trusted_proxies,
            webhook_retry_base_ms,
        } => {
            let test_panic_on_document = match test_panic_on_document {
                None => None,
                Some(id) => {
                    anyhow::ensure!(
                        listen.ip().is_loopback(),
                        "--test-panic-on-document only listens on a loopback address"
                    );
                    Some(
                        id.parse()
                            .map_err(|_| anyhow::anyhow!("not a document id: {id}"))?,
                    )
                }
            };
            if insecure_no_auth_for_benchmarks {
                anyhow::ensure!(
                    listen.ip().is_loopback(),
                    "--insecure-no-auth-for-benchmarks only listens on a loopback address, not {listen}"
                );
                eprintln!(
                    "WARNING: authentication and access control are OFF (--insecure-no-auth-for-benchmarks). \
                     Every device may read and write every document. For benchmarks on 127.0.0.1 only; never with real records."
                );
            }
            writable(&data)?;
            let opened =
                Data::open(&data).with_context(|| format!("opening {}", data.display()))?;
            let db = opened.db.clone();
            let config = Config {
                data_dir: data,
                listen,
                web_dir: web,
                limits: Limits {
                    max_message_bytes,
                    max_connections_per_device,
                    unload_idle_after: std::time::Duration::from_secs(unload_idle_after_seconds),
                    insecure_open_access: insecure_no_auth_for_benchmarks,
                    test_panic_on_document,
                    ..Limits::default()
                },
                webhook_retry_base: std::time::Duration::from_millis(webhook_retry_base_ms),
                trusted_proxies,
            };
            if config.webhook_retry_base != fieldvisit_sync_server::webhook::DEFAULT_RETRY_BASE {
                eprintln!(
                    "WARNING: safeguarding webhook retries follow --webhook-retry-base-ms {webhook_retry_base_ms}, \
                     not the default (a failed call is tried for 450 times that)."
                );
            }
            let running = server::start(config, opened).await?;
            if demo {
                let sign_ins = demo::seed(&db, &running.engine.repo).await?;
                println!("Demo practice ready (synthetic data). Sign in with a one-time code:");
                for s in sign_ins {
                    println!("  {:<16} {:<11} {}", s.name, s.role, s.code);
                }
            }
            println!(
                "fieldvisit-sync-server listening on http://{}",
                running.addr
            );
            running.run_until_ctrl_c().await?;
        }
        Command::Admin { data, json, action } => {
            let opened =
                Data::open(&data).with_context(|| format!("opening {}", data.display()))?;
            let db = opened.db.clone();
            match action {
                Admin::AddPerson {
                    name,
                    role,
                    supervisor,
                } => {
                    let role = Role::parse(&role).with_context(|| {
                        format!("role must be worker, supervisor, reviewer or admin, not {role:?}")
                    })?;
                    let p = practice::add_person(&db, &name, role, supervisor.as_deref()).await?;
                    print(json, &p, |p| {
                        format!("added {} {} ({})", p.role.as_str(), p.name, p.id)
                    })?;
                }
                Admin::AddCase {
                    reference,
                    person_name,
                } => {
                    let repo = opened.repo().await;
                    let c = practice::add_case(&db, &repo, &reference, &person_name).await;
                    repo.stop().await;
                    let c = c?;
                    print(json, &c, |c| {
                        format!(
                            "added case {} ({}), document {}",
                            c.reference, c.case_id, c.document_id
                        )
                    })?;
                }
                Admin::Assign { case_id, person_id } => {
                    practice::assign(&db, &case_id, &person_id).await?;
                    print(
                        json,
                        &serde_json::json!({"case_id": case_id, "person_id": person_id}),
                        |_| format!("assigned {person_id} to {case_id}"),
                    )?;
                }
                Admin::Unassign { case_id, person_id } => {
                    practice::unassign(&db, &case_id, &person_id).await?;
                    print(
                        json,
                        &serde_json::json!({"case_id": case_id, "person_id": person_id}),
                        |_| format!("unassigned {person_id} from {case_id}"),
                    )?;
                }
                Admin::SetSupervisor {
                    person_id,
                    supervisor,
                } => {
                    practice::set_supervisor(&db, &person_id, supervisor.as_deref()).await?;
                    print(
                        json,
                        &serde_json::json!({"person_id": person_id, "supervisor_id": supervisor}),
                        |_| {
                            format!(
                                "supervisor of {person_id} is now {}",
                                supervisor.as_deref().unwrap_or("none")
                            )
                        },
                    )?;
                }
                Admin::EnrolDevice { person_id, label } => {
                    let e = practice::add_device(&db, &person_id, &label).await?;
                    print(json, &e, |e| {
                        format!(
                            "enrolment code {} for device {} (valid until {})",
                            e.code, e.device_id, e.expires_at
                        )
                    })?;
                }
                Admin::Devices { person_id } => {
                    let devices = practice::devices_of(&db, &person_id).await?;
                    print(json, &devices, |ds| {
                        let or = |v: &Option<String>, none: &str| {
                            v.clone().unwrap_or_else(|| none.into())
                        };
                        ds.iter()
                            .map(|d| {
                                format!(
                                    "{} \"{}\": enrolled {}, last seen {}, last synced {}, {} unsynced (as of {}){}{}",
                                    d.device_id,
                                    d.label,
                                    or(&d.enrolled_at, "not yet"),
                                    or(&d.last_seen_at, "never"),
                                    or(&d.last_synced_at, "never"),
                                    d.unsynced_changes.map_or("? ".into(), |n| n.to_string()),
                                    or(&d.reported_at, "never"),
                                    d.revoked_at.as_ref().map_or(String::new(), |at| format!(", revoked {at}{}", d.revoked_by.as_ref().map_or(String::new(), |by| format!(" by {by}")))),
                                    d.wiped_at.as_ref().map_or(String::new(), |at| format!(", wiped {at}")),
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    })?;
                }
                Admin::RevokeDevice { device_id } => {
                    let r = practice::revoke(&db, &device_id, None).await?;
                    print(json, &r, |r| {
                        if r.was_already_revoked {
                            format!("{} was already revoked", r.device_id)
                        } else {
                            format!("revoked {}", r.device_id)
                        }
                    })?;
                }
                Admin::Webhook { url, remove } => match url {
                    Some(url) if !remove => {
                        let url = webhook::check_url(&url).map_err(anyhow::Error::msg)?;
                        if url.scheme() == "http"
                            && !url.host_str().is_some_and(|h| {
                                h == "localhost"
                                    || h.trim_matches(['[', ']'])
                                        .parse::<std::net::IpAddr>()
                                        .is_ok_and(|ip| ip.is_loopback())
                            })
                        {
                            eprintln!(
                                "WARNING: {url} is plain http: the call is signed but not encrypted, \
                                 and it names the case and the worker. Prefer https."
                            );
                        }
                        let secret = fieldvisit_sync_server::secrets::token();
                        db.set_webhook(Some((url.as_str(), &secret)))?;
                        print(
                            json,
                            &serde_json::json!({"url": url.as_str(), "secret": secret}),
                            |_| {
                                format!(
                                    "safeguarding concerns will be sent to {url}\n\
                                     signing secret (shown this once; give it to the receiver): {secret}"
                                )
                            },
                        )?;
                    }
                    _ => {
                        db.set_webhook(None)?;
                        print(json, &serde_json::json!({"removed": true}), |_| {
                            "webhook removed; calls still queued will be given up".into()
                        })?;
                    }
                },
                Admin::SafeguardingPhone { phone } => {
                    let phone = check_phone(&phone).map_err(anyhow::Error::msg)?;
                    db.set_safeguarding_phone(&phone)?;
                    print(
                        json,
                        &serde_json::json!({"safeguarding_phone": phone}),
                        |_| format!("safeguarding phone is now {phone}"),
                    )?;
                }
                Admin::Audit { action, limit } => {
                    let entries = db.audit_entries(&fieldvisit_sync_server::db::AuditFilter {
                        action,
                        limit: Some(limit),
                        ..Default::default()
                    })?;
                    print(json, &entries, |entries| {
                        entries
                            .iter()
                            .map(|e| {
                                format!(
                                    "{} {} device={} person={} doc={} case={} {}",
                                    e.at,
                                    e.action,
                                    e.device_id.as_deref().unwrap_or("-"),
                                    e.person_id.as_deref().unwrap_or("-"),
                                    e.document_id.as_deref().unwrap_or("-"),
                                    e.case_id.as_deref().unwrap_or("-"),
                                    e.detail
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    })?;
                }
            }
        }
    }
    Ok(())
}

/// Refuses to serve from a data directory (or database file in it) that
/// cannot be written, with a sentence that says so: SQLite would open a
/// read-only file read-only, and the server would then refuse every change
/// it is sent, one by one, instead of not starting.
fn writable(data: &std::path::Path) -> anyhow::Result<()> {
    let said = |e: std::io::Error| {
        anyhow::anyhow!(
            "the data directory {} cannot be written ({e}). The server keeps every change there and \
             acknowledges none it has not written, so it does not start: is the directory mounted \
             read-only, or owned by another user?",
            data.display()
        )
    };
    std::fs::create_dir_all(data).map_err(said)?;
    let probe = data.join(".write-probe");
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(said)?;
    for file in ["fieldvisit.sqlite", "documents.sqlite"] {
        let path = data.join(file);
        if path.exists() {
            std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|e| said(std::io::Error::new(e.kind(), format!("{file}: {e}"))))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safeguarding_phones_are_plain_numbers() {
        assert_eq!(
            check_phone(" +44 (0)20 7946-0000 ").unwrap(),
            "+44 (0)20 7946-0000"
        );
        assert_eq!(check_phone("999").unwrap(), "999");
        for bad in [
            "12",
            "",
            "+-()",
            "0800 CALL NOW",
            "tel:999",
            &"1".repeat(31),
        ] {
            assert!(check_phone(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_command_line_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let webhook = |args: &[&str]| {
            Cli::try_parse_from(["fv", "admin", "webhook"].iter().chain(args)).map(|_| ())
        };
        assert!(webhook(&["--url", "https://example.org/hook"]).is_ok());
        assert!(webhook(&["--remove"]).is_ok());
        assert!(webhook(&[]).is_err());
        assert!(webhook(&["--url", "https://example.org/hook", "--remove"]).is_err());
    }
}
