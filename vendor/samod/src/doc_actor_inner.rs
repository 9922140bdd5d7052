use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use automerge::{Automerge, ReadDoc};
use futures::{Stream, channel::mpsc};
use samod_core::{
    ConnectionId, DocumentActorId, DocumentChanged, DocumentId, PeerId, SyncDirection,
    SyncMessageStat, UnixTimestamp,
    actors::{
        DocToHubMsg,
        document::{DocActorResult, DocumentActor, WithDocResult, io::DocumentIoTask},
    },
    io::{IoTaskId, StorageTask},
};

use crate::{
    actor_task::ActorTask,
    io_loop::{self, IoLoopTask},
    observer::{self, RepoObserver},
    peer_connection_info::PeerDocState,
    unbounded::UnboundedSender,
};

pub(crate) struct DocActorInner {
    document_id: DocumentId,
    actor_id: DocumentActorId,
    tx_to_core: UnboundedSender<(DocumentActorId, DocToHubMsg)>,
    tx_io: UnboundedSender<io_loop::IoLoopTask>,
    ephemera_listeners: Vec<mpsc::UnboundedSender<Vec<u8>>>,
    change_listeners: Vec<mpsc::UnboundedSender<DocumentChanged>>,
    peer_state_change_listeners: Vec<mpsc::UnboundedSender<HashMap<ConnectionId, PeerDocState>>>,
    actor: DocumentActor,
    /// How many connections each peer has to this document, kept by the
    /// actor's connection changes (patched in by Fieldvisit: the set was
    /// rebuilt from every peer's state, and sent whole, on each join).
    peer_connections: HashMap<PeerId, usize>,
    observer: Option<Arc<dyn RepoObserver>>,
    /// Storage writes (puts and deletes) issued but not yet reported complete,
    /// each with the connection whose message caused it (`None`: a local
    /// change or the actor's own work, owed to every connection).
    unsaved_writes: HashMap<IoTaskId, Option<ConnectionId>>,
    /// Whose message the running step handles, while it runs.
    writes_owner: Option<ConnectionId>,
    /// Outgoing sync messages held back, in order, each with the writes it
    /// waits for.
    ///
    /// Patched in by Fieldvisit: a sync message tells the peer which heads we
    /// have, so sending it to a peer before the writes of its own changes are
    /// on disk would acknowledge changes that a crash a moment later loses.
    /// Other peers are not held up (they are told nothing about their own
    /// changes), so a write that cannot complete (a full disk) stops only its
    /// own sender's acknowledgements, and reads go on.
    held_messages: VecDeque<(HashSet<IoTaskId>, DocToHubMsg)>,
    /// When a peer's message or a local use last reached this document
    /// (patched in by Fieldvisit: idle documents are unloaded).
    last_active: web_time::Instant,
}

impl DocActorInner {
    pub(crate) fn new(
        document_id: DocumentId,
        actor_id: DocumentActorId,
        actor: DocumentActor,
        tx_to_core: UnboundedSender<(DocumentActorId, DocToHubMsg)>,
        tx_io: UnboundedSender<io_loop::IoLoopTask>,
        observer: Option<Arc<dyn RepoObserver>>,
    ) -> Self {
        DocActorInner {
            document_id,
            actor_id,
            tx_to_core,
            tx_io,
            ephemera_listeners: Vec::new(),
            change_listeners: Vec::new(),
            peer_state_change_listeners: Vec::new(),
            actor,
            peer_connections: HashMap::new(),
            observer,
            unsaved_writes: HashMap::new(),
            writes_owner: None,
            held_messages: VecDeque::new(),
            last_active: web_time::Instant::now(),
        }
    }

    pub(crate) fn document(&self) -> &Automerge {
        self.actor.document()
    }

    pub(crate) fn with_document<F, R>(&mut self, f: F) -> R
    where
        F: FnOnce(&mut Automerge) -> R,
    {
        let WithDocResult {
            actor_result,
            value,
        } = self.actor.with_document(UnixTimestamp::now(), f).unwrap();

        self.handle_results(actor_result);

        value
    }

    pub(crate) fn create_ephemera_listener(&mut self) -> mpsc::UnboundedReceiver<Vec<u8>> {
        let (tx, rx) = mpsc::unbounded();
        self.ephemera_listeners.push(tx);
        rx
    }

    pub(crate) fn create_change_listener(&mut self) -> mpsc::UnboundedReceiver<DocumentChanged> {
        let (tx, rx) = mpsc::unbounded();
        self.change_listeners.push(tx);
        rx
    }

    pub(crate) fn broadcast_ephemeral_message(&mut self, message: Vec<u8>) {
        let result = self.actor.broadcast(UnixTimestamp::now(), message);
        self.handle_results(result);
    }

    pub(crate) fn handle_results(&mut self, results: DocActorResult) {
        let DocActorResult {
            io_tasks,
            outgoing_messages,
            ephemeral_messages,
            change_events,
            stopped,
            peer_state_changes,
            sync_message_stats,
            pending_sync_messages,
        } = results;

        if let Some((joined, left)) = self.connected_peers_changed(stopped) {
            // Send lifecycle changes before the checks below, including removal
            // of the last connection to a peer even when no check is generated.
            let _ = self.tx_io.unbounded_send(IoLoopTask::DocumentPeersChanged {
                actor_id: self.actor_id,
                joined,
                left,
            });
        }
        let peer_count = self.actor.peer_count();
        let stats = self.actor.document().stats();
        log_sync_message_stats(
            &self.document_id,
            &sync_message_stats,
            peer_count,
            stats.num_ops,
            stats.num_changes,
        );

        if let Some(ref obs) = self.observer {
            for stat in &sync_message_stats {
                let event = match stat.direction {
                    SyncDirection::Received => observer::RepoEvent::SyncMessageReceived {
                        document_id: self.document_id.clone(),
                        connection_id: stat.connection_id,
                        bytes: stat.bytes,
                        duration: stat.duration,
                        queue_duration: stat.queue_duration,
                    },
                    SyncDirection::Generated => observer::RepoEvent::SyncMessageGenerated {
                        document_id: self.document_id.clone(),
                        connection_id: stat.connection_id,
                        bytes: stat.bytes,
                        duration: stat.duration,
                    },
                };
                // An observer that panics on this event is blamed on its peer.
                samod_core::culprit::set(Some(stat.connection_id));
                obs.observe(&event);
                samod_core::culprit::set(None);
            }
            if pending_sync_messages > 0 {
                obs.observe(&observer::RepoEvent::DocumentPendingSyncMessages {
                    document_id: self.document_id.clone(),
                    count: pending_sync_messages,
                });
            }
            if stopped {
                obs.observe(&observer::RepoEvent::DocumentClosed {
                    document_id: self.document_id.clone(),
                });
            }
        }
        for task in &io_tasks {
            if matches!(
                task.action,
                DocumentIoTask::Storage(StorageTask::Put { .. } | StorageTask::Delete { .. })
            ) {
                self.unsaved_writes.insert(task.task_id, self.writes_owner);
            }
        }
        for task in io_tasks {
            if let Err(_e) = self.tx_io.unbounded_send(IoLoopTask::Storage {
                doc_id: self.document_id.clone(),
                task,
                actor_id: self.actor_id,
            }) {
                tracing::error!("io receiver dropped whilst document actor is still running");
                return;
            }
        }

        if stopped {
            // A stopping actor is never polled again: release everything now
            // (Repo::stop still waits for the storage writes themselves).
            let held: Vec<_> = self.held_messages.drain(..).map(|(_, m)| m).collect();
            if !self.send_to_core(held) {
                return;
            }
        }
        for msg in outgoing_messages {
            let Some(target) = msg.to_connection().filter(|_| !stopped) else {
                // Not a sync message to a peer: nothing to acknowledge.
                if !self.send_to_core(vec![msg]) {
                    return;
                }
                continue;
            };
            let waiting: HashSet<IoTaskId> = self
                .unsaved_writes
                .iter()
                .filter(|(_, owner)| owner.is_none_or(|o| o == target))
                .map(|(id, _)| *id)
                .collect();
            let behind_earlier = self
                .held_messages
                .iter()
                .any(|(_, m)| m.to_connection() == Some(target));
            if waiting.is_empty() && !behind_earlier {
                if !self.send_to_core(vec![msg]) {
                    return;
                }
            } else {
                self.held_messages.push_back((waiting, msg));
            }
        }

        if !ephemeral_messages.is_empty() {
            self.ephemera_listeners.retain_mut(|listener| {
                for msg in &ephemeral_messages {
                    if listener.unbounded_send(msg.clone()).is_err() {
                        return false;
                    }
                }
                true
            });
        }

        if !change_events.is_empty() {
            self.change_listeners.retain_mut(|listener| {
                for change in &change_events {
                    if listener.unbounded_send(change.clone()).is_err() {
                        return false;
                    }
                }
                true
            });
        }

        if !peer_state_changes.is_empty() {
            let changes = peer_state_changes
                .into_iter()
                .map(|(k, v)| (k, v.into()))
                .collect::<HashMap<_, _>>();
            self.peer_state_change_listeners
                .retain_mut(move |listener| {
                    if listener.unbounded_send(changes.clone()).is_err() {
                        return false;
                    }
                    true
                });
        }
    }

    fn send_to_core(&mut self, messages: Vec<DocToHubMsg>) -> bool {
        for msg in messages {
            if let Err(_e) = self.tx_to_core.unbounded_send((self.actor_id, msg)) {
                tracing::error!("core receiver dropped whilst document actor is still running");
                return false;
            }
        }
        true
    }

    /// Marks a storage write as durable and sends every held batch that no
    /// longer waits for anything, keeping their order.
    fn write_completed(&mut self, task_id: IoTaskId) {
        if self.unsaved_writes.remove(&task_id).is_none() {
            return;
        }
        for (waiting, _) in self.held_messages.iter_mut() {
            waiting.remove(&task_id);
        }
    }

    /// Sends every held message whose writes are done and which is not
    /// behind a still-held message to the same connection.
    fn release_held_messages(&mut self) {
        if self.held_messages.iter().all(|(waiting, _)| !waiting.is_empty()) {
            return;
        }
        let mut blocked = HashSet::new();
        let mut still_held = VecDeque::new();
        let mut ready = Vec::new();
        for (waiting, msg) in self.held_messages.drain(..) {
            let target = msg.to_connection();
            if waiting.is_empty() && !blocked.contains(&target) {
                ready.push(msg);
            } else {
                blocked.insert(target);
                still_held.push_back((waiting, msg));
            }
        }
        self.held_messages = still_held;
        self.send_to_core(ready);
    }

    /// Unused for `idle_for`, with nothing unsaved or held back.
    pub(crate) fn is_idle(&self, idle_for: std::time::Duration) -> bool {
        self.last_active.elapsed() >= idle_for
            && self.unsaved_writes.is_empty()
            && self.held_messages.is_empty()
            && self.owes_all_in().is_none()
            && !self.is_stopped()
    }

    /// How long until news held back for every peer is due (patched in by
    /// Fieldvisit): see `samod_core`'s `DocumentActor::owes_all_in`.
    pub(crate) fn owes_all_in(&self) -> Option<std::time::Duration> {
        self.actor.owes_all_in(UnixTimestamp::now())
    }

    /// Writes the news held back for every peer (patched in by Fieldvisit).
    pub(crate) fn flush(&mut self) {
        let result = self.actor.flush(UnixTimestamp::now());
        self.handle_results(result);
        self.release_held_messages();
    }

    pub(crate) fn handle_task(&mut self, task: ActorTask) {
        if matches!(
            task,
            ActorTask::HandleMessage(_) | ActorTask::WithDocument(_)
        ) {
            self.last_active = web_time::Instant::now();
        }
        let result = match task {
            ActorTask::HandleMessage(samod_to_actor_message) => {
                self.writes_owner = samod_to_actor_message.from_connection();
                self.actor
                    .handle_message(UnixTimestamp::now(), samod_to_actor_message)
            }
            ActorTask::IoComplete(io_result) => {
                self.write_completed(io_result.task_id);
                self.actor
                    .handle_io_complete(UnixTimestamp::now(), io_result)
            }
            ActorTask::WithDocument(f) => {
                f(self);
                return;
            }
        };
        self.handle_results(result.unwrap());
        self.writes_owner = None;
        self.release_held_messages();
    }

    /// Runs one step of the actor, containing a panic to this document
    /// (patched in by Fieldvisit). On a panic the actor's state is no longer
    /// trusted: held messages are dropped (nothing unsaved is acknowledged),
    /// the observer hears of it, and the hub is told the actor terminated,
    /// so the document loads again from storage when it is next needed.
    /// Returns false when the actor must not run again.
    pub(crate) fn contain_panic(
        &mut self,
        from: Option<ConnectionId>,
        step: impl FnOnce(&mut Self),
    ) -> bool {
        samod_core::culprit::take();
        let Err(payload) =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| step(&mut *self)))
        else {
            return true;
        };
        // The peer whose message or state automerge was working on, if any.
        let from = samod_core::culprit::take().or(from);
        let message = panic_message(payload.as_ref());
        tracing::error!(
            document_id = %self.document_id,
            %message,
            "document actor panicked; it is stopped and reloads from storage when next needed"
        );
        self.held_messages.clear();
        if let Some(obs) = self.observer.as_ref() {
            obs.observe(&observer::RepoEvent::DocumentPanicked {
                document_id: self.document_id.clone(),
                connection_id: from,
                message,
            });
        }
        let _ = self
            .tx_to_core
            .unbounded_send((self.actor_id, DocToHubMsg::terminated()));
        false
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.actor.is_stopped()
    }

    pub(crate) fn peers(
        &mut self,
    ) -> (
        HashMap<ConnectionId, PeerDocState>,
        impl Stream<Item = HashMap<ConnectionId, PeerDocState>> + 'static + use<>,
    ) {
        let peers = self.actor.peers();
        let (tx, rx) = mpsc::unbounded();
        self.peer_state_change_listeners.push(tx);
        let peers = peers.into_iter().map(|(k, v)| (k, v.into())).collect();
        (peers, rx)
    }

    /// The peers that gained their first connection to this document and
    /// those that lost their last, since the last call; every peer has left
    /// once the actor stopped. `None` when neither happened.
    pub(crate) fn connected_peers_changed(
        &mut self,
        stopped: bool,
    ) -> Option<(Vec<PeerId>, Vec<PeerId>)> {
        let (mut joined, mut left) = (Vec::new(), Vec::new());
        for (peer, added) in self.actor.take_connection_changes() {
            if added {
                let count = self.peer_connections.entry(peer.clone()).or_default();
                *count += 1;
                if *count == 1 {
                    joined.push(peer);
                }
            } else if let Some(count) = self.peer_connections.get_mut(&peer) {
                *count -= 1;
                if *count == 0 {
                    self.peer_connections.remove(&peer);
                    left.push(peer);
                }
            }
        }
        if stopped {
            left.extend(self.peer_connections.drain().map(|(peer, _)| peer));
        }
        // A peer that left and came back within one step is in both lists:
        // it has a connection, so it only joined.
        left.retain(|peer| !self.peer_connections.contains_key(peer));
        joined.retain(|peer| self.peer_connections.contains_key(peer));
        if joined.is_empty() && left.is_empty() {
            None
        } else {
            Some((joined, left))
        }
    }
}

fn log_sync_message_stats(
    doc_id: &DocumentId,
    sync_message_stats: &[SyncMessageStat],
    peer_count: usize,
    num_ops: u64,
    num_changes: u64,
) {
    for stat in sync_message_stats {
        let direction = match stat.direction {
            SyncDirection::Received => "received",
            SyncDirection::Generated => "generated",
        };
        tracing::debug!(
            document_id = %doc_id,
            connection_id = ?stat.connection_id,
            direction,
            bytes = stat.bytes,
            duration_us = stat.duration.as_micros() as u64,
            queue_duration_us = stat.queue_duration.as_micros() as u64,
            peer_count,
            num_ops,
            num_changes,
            "sync_message"
        );
    }
}

/// The text of a panic's payload, for the log and the observer.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
