//! What a record kind is to the rest of the system: one trait, [`Record`],
//! and one declaration (`kinds!` in `records/mod.rs`) that lists the kinds
//! and generates [`Kind`](super::Kind), [`AnyRecord`](super::AnyRecord) and
//! the dispatch from a kind to its type ([`ForKind`]). A new kind is a
//! module that implements the trait and one line in the declaration: the
//! server's index, case record, registration and judge, and the device's
//! reads and edits, ask the trait, never a `match` on kinds.

use std::collections::HashSet;

use automerge::{Automerge, ChangeHash};

use super::ops::Shape;
use super::{Accepted, Context, Passage, Refusal, Writer};

/// A record kind: the document's type as hydration reads it, with what
/// every part of the system needs to know of it.
pub trait Record: autosurgeon::Hydrate + autosurgeon::Reconcile + Sized + 'static {
    /// Its kind, as the registry stores it.
    const KIND: super::Kind;
    /// What people call one ("Safeguarding concern").
    const NAME: &'static str;
    /// Lower syncs sooner: what a phone sends first when it comes back into
    /// signal.
    const PRIORITY: u8;
    /// Whether devices make records of this kind (and so register them); a
    /// case document is made by the practice admin.
    const MADE_ON_DEVICES: bool;
    /// The audit log's action when a document of this kind is registered.
    const REGISTERED: &'static str;
    /// What each path of the document holds and who may write there: the
    /// rules per operation ([`super::ops`]).
    const SHAPE: &'static Shape;

    /// The typed edits a device makes to it.
    type Edit: Edit<Of = Self>;

    /// The case it belongs to, as it says.
    fn case_id(&self) -> &str;

    /// The rules over the record as hydration reads it: `before` as the
    /// server holds it (`None` when the batch makes it), `after` with the
    /// batch applied (`after_doc`), `new` the batch's changes. The rules
    /// per operation ([`Self::SHAPE`]) run on top, whatever this says.
    fn check(
        before: &Option<Self>,
        after: &Self,
        after_doc: &Automerge,
        new: &HashSet<ChangeHash>,
        cx: &Context<'_>,
    ) -> Result<Accepted, Refusal>;

    /// Every text of it, for search and the case record.
    fn passages(&self) -> Vec<Passage>;

    /// The photos (SHA-256) it refers to.
    fn blobs(&self) -> Vec<String> {
        Vec::new()
    }

    /// How the case record lists it and what it adds to the case's
    /// chronology; `None` when it is not listed so (the case itself, a
    /// visit: the case record has its own views of those) or not yet (a
    /// concern still a draft).
    fn summary(&self, _doc: &Automerge) -> Option<Summary> {
        None
    }

    /// Reads one, refusing a newer schema.
    fn read(doc: &Automerge) -> Result<Self, crate::Error> {
        crate::doc::read(doc)
    }
}

/// A typed edit of a record.
pub trait Edit {
    /// The kind of record it edits.
    type Of: Record;

    /// Whether `writer` may make this edit to the record as it stands (read
    /// from `doc`): the device's check before it writes, from the same
    /// rules the server judges by, so an honest device never makes a change
    /// the server refuses.
    fn permitted(
        &self,
        record: &Self::Of,
        doc: &Automerge,
        writer: &Writer<'_>,
    ) -> Result<(), Refusal>;

    /// Writes the edit into the document (one change).
    fn apply(&self, doc: &mut Automerge) -> Result<(), crate::Error>;
}

/// Something to do with a record's type, given only its kind: what a
/// generic closure would be, were closures generic. `Kind::with` runs it
/// on the kind's type.
pub trait ForKind {
    type Out;
    fn run<R: Record>(self) -> Self::Out;
}

/// How the case record lists a record, as data: who is named by person id
/// ([`Said::Person`]), and the reader puts in their names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// "Safeguarding concern", "Capacity assessment: <the decision>".
    pub title: String,
    /// When it was raised or made.
    pub at: String,
    /// Who wrote it (a person id).
    pub by: String,
    /// Where it stands, and since when.
    pub status: Vec<Said>,
    pub status_at: Option<String>,
    /// What it adds to the case's chronology.
    pub events: Vec<Event>,
}

/// A piece of a sentence about a record: words, or a person named by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    Words(String),
    Person(String),
}

impl Said {
    pub fn words(words: impl Into<String>) -> Self {
        Said::Words(words.into())
    }
}

/// A row a record adds to its case's chronology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: String,
    /// The chronology's kind of row (`concern`, `assessment`).
    pub kind: &'static str,
    pub title: String,
    /// Who (a person id).
    pub by: String,
    pub summary: String,
}

/// Declares the record kinds: each variant of [`Kind`](super::Kind), the
/// string the registry stores, and the type that implements [`Record`].
/// Generates `Kind` (a `string_enum!`), its per-kind constants and
/// dispatch, and `AnyRecord`, a record of any kind as read.
macro_rules! kinds {
    ($(#[$meta:meta])* $($variant:ident => $text:literal : $ty:ty),+ $(,)?) => {
        string_enum! {
            $(#[$meta])*
            Kind { $($variant => $text),+ }
        }

        impl Kind {
            pub fn name(self) -> &'static str {
                match self { $(Kind::$variant => <$ty as $crate::records::Record>::NAME),+ }
            }

            /// Lower syncs sooner. A safeguarding concern comes before
            /// everything, photos included.
            pub fn priority(self) -> u8 {
                match self { $(Kind::$variant => <$ty as $crate::records::Record>::PRIORITY),+ }
            }

            /// Whether a device makes documents of this kind (and so
            /// registers them).
            pub fn made_on_devices(self) -> bool {
                match self {
                    $(Kind::$variant => <$ty as $crate::records::Record>::MADE_ON_DEVICES),+
                }
            }

            /// The audit log's action when one is registered.
            pub fn registered(self) -> &'static str {
                match self { $(Kind::$variant => <$ty as $crate::records::Record>::REGISTERED),+ }
            }

            /// What each path of its documents holds and who may write it.
            pub fn shape(self) -> &'static $crate::records::ops::Shape {
                match self { $(Kind::$variant => <$ty as $crate::records::Record>::SHAPE),+ }
            }

            /// Runs `f` on this kind's type.
            pub fn with<F: $crate::records::ForKind>(self, f: F) -> F::Out {
                match self { $(Kind::$variant => f.run::<$ty>()),+ }
            }
        }

        /// A record of any kind, as read from its document.
        #[derive(Debug, Clone, PartialEq)]
        pub enum AnyRecord {
            $($variant(Box<$ty>)),+
        }

        impl AnyRecord {
            /// Reads a document of `kind`, refusing a newer schema.
            pub fn read(kind: Kind, doc: &automerge::Automerge) -> Result<Self, $crate::Error> {
                Ok(match kind {
                    $(Kind::$variant => AnyRecord::$variant(Box::new(
                        <$ty as $crate::records::Record>::read(doc)?,
                    ))),+
                })
            }

            pub fn kind(&self) -> Kind {
                match self { $(AnyRecord::$variant(_) => Kind::$variant),+ }
            }

            pub fn case_id(&self) -> &str {
                match self { $(AnyRecord::$variant(r) => $crate::records::Record::case_id(&**r)),+ }
            }

            pub fn passages(&self) -> Vec<$crate::records::Passage> {
                match self { $(AnyRecord::$variant(r) => $crate::records::Record::passages(&**r)),+ }
            }

            pub fn blobs(&self) -> Vec<String> {
                match self { $(AnyRecord::$variant(r) => $crate::records::Record::blobs(&**r)),+ }
            }

            pub fn summary(&self, doc: &automerge::Automerge) -> Option<$crate::records::Summary> {
                match self {
                    $(AnyRecord::$variant(r) => $crate::records::Record::summary(&**r, doc)),+
                }
            }
        }
    };
}
