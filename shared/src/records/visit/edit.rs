use super::*;

/// The typed edits of a visit. The app and the device core change a visit
/// only through these, never by raw path, so a UI bug cannot write into the
/// wrong part of a record; the rules below say who may make each.
#[derive(Debug, Clone, PartialEq)]
pub enum VisitEdit {
    SetText {
        text: VisitText,
        value: String,
    },
    SetCommunication(Vec<Communication>),
    AddAction {
        id: String,
    },
    SetActionDone {
        id: String,
        done: bool,
    },
    AddCreative {
        id: String,
        method: CreativeMethod,
    },
    SetCreativeMethod {
        id: String,
        method: CreativeMethod,
    },
    /// Marks an event significant, for the case's chronology; its summary
    /// is then text like any other (`SetText` on `VisitText::Significant`).
    AddSignificant {
        id: String,
        at: String,
        /// The writer's own person id.
        by: String,
    },
    /// A photo processed on the phone and stored as a blob; its caption is
    /// then text like any other (`VisitText::PhotoCaption`).
    AddPhoto(PhotoRef),
    /// Shows one of the visit's photos with a creative-method observation
    /// (a picture of the artwork, the object, the room).
    ShowInCreative {
        id: String,
        sha256: String,
    },
    /// Takes a photo out of the visit, dated and attributed; the record
    /// keeps that it was there.
    RemovePhoto {
        sha256: String,
        by: String,
        at: String,
    },
    /// A review decision by `by` at `at`: submit (the author), return with
    /// comments or sign off (a supervisor). A sign-off attests to the
    /// document's heads as they are when it is made.
    Decide {
        id: String,
        status: ReviewStatus,
        by: String,
        at: String,
        comment: String,
    },
    /// A supervisor's comment on characters `from..to` of a field.
    Annotate {
        id: String,
        field: TextField,
        from: usize,
        to: usize,
        body: String,
        author: String,
        at: String,
    },
    ResolveAnnotation {
        id: String,
        by: String,
        at: String,
    },
    AddAddendum {
        id: String,
        author: String,
        at: String,
        text: String,
    },
    SetAddendumText {
        id: String,
        value: String,
    },
}

impl VisitEdit {
    /// Whether `writer` may make this edit to `visit` as it stands: the
    /// app's check before it writes, from the same rules as [`check`]
    /// (a visit's need only the visit as read, so a caller may ask before
    /// it holds the document, as a photo's bytes are kept only once it
    /// may be added).
    pub fn allowed(
        &self,
        visit: &VisitDoc,
        writer: &crate::records::Writer<'_>,
    ) -> Result<(), Refusal> {
        match self {
            VisitEdit::SetText { .. }
            | VisitEdit::SetCommunication(_)
            | VisitEdit::AddAction { .. }
            | VisitEdit::SetActionDone { .. }
            | VisitEdit::AddCreative { .. }
            | VisitEdit::SetCreativeMethod { .. } => {
                may_change_content(writer)?;
                not_signed_off(visit)
            }
            VisitEdit::AddSignificant { by, .. } => {
                may_change_content(writer)?;
                signed_as(writer, by)?;
                not_signed_off(visit)
            }
            VisitEdit::AddPhoto(photo) => {
                may_change_content(writer)?;
                not_signed_off(visit)?;
                // A photo once added stays as it was (`check_photos`): the
                // same picture again is not a second photo, and one
                // removed stays removed, with who removed it.
                match visit.photos.get(&photo.sha256) {
                    None => Ok(()),
                    Some(p) if p.removed_by.is_empty() => Err(Refusal::new(
                        "photo_already_added",
                        "this photo is already in the visit",
                    )),
                    Some(_) => Err(Refusal::new(
                        "photo_removed",
                        "this photo was removed from the visit, and the record keeps it removed",
                    )),
                }
            }
            VisitEdit::Decide { status, by, .. } => {
                signed_as(writer, by)?;
                review::transition(reviewer(visit, writer)?, visit.review.status, *status)
                    .map_err(|e| Refusal::new("review_transition", e.to_string()))
            }
            VisitEdit::Annotate { author, .. } => {
                signed_as(writer, author)?;
                may_annotate(writer)
            }
            VisitEdit::ResolveAnnotation { id, by, .. } => {
                signed_as(writer, by)?;
                match visit.annotations.get(id) {
                    Some(a) if a.resolved_by.is_empty() => Ok(()),
                    Some(_) => Err(Refusal::new(
                        "already_resolved",
                        "this annotation is already resolved",
                    )),
                    None => Err(Refusal::new(
                        "unknown_annotation",
                        format!("no annotation {id}"),
                    )),
                }
            }
            VisitEdit::AddAddendum { author, .. } => {
                signed_as(writer, author)?;
                may_add_addendum(visit, writer)
            }
            VisitEdit::ShowInCreative { id, sha256 } => {
                may_change_content(writer)?;
                not_signed_off(visit)?;
                if !visit.creative.contains_key(id) {
                    return Err(Refusal::new(
                        "unknown_observation",
                        format!("no creative-method observation {id}"),
                    ));
                }
                match visit.photos.get(sha256) {
                    Some(p) if p.removed_by.is_empty() => Ok(()),
                    _ => Err(Refusal::new(
                        "unknown_photo",
                        format!("no photo {sha256} in this visit"),
                    )),
                }
            }
            VisitEdit::RemovePhoto { sha256, by, .. } => {
                signed_as(writer, by)?;
                may_change_content(writer)?;
                not_signed_off(visit)?;
                match visit.photos.get(sha256) {
                    Some(p) if p.removed_by.is_empty() => Ok(()),
                    Some(_) => Err(Refusal::new(
                        "already_removed",
                        "this photo is already removed",
                    )),
                    None => Err(Refusal::new(
                        "unknown_photo",
                        format!("no photo {sha256} in this visit"),
                    )),
                }
            }
            VisitEdit::SetAddendumText { id, .. } => match visit.addenda.get(id) {
                Some(a) => signed_as(writer, &a.author),
                None => Err(Refusal::new(
                    "unknown_addendum",
                    format!("no addendum {id}"),
                )),
            },
        }
    }
}

impl crate::records::Edit for VisitEdit {
    type Of = VisitDoc;

    fn permitted(
        &self,
        visit: &VisitDoc,
        _doc: &Automerge,
        writer: &crate::records::Writer<'_>,
    ) -> Result<(), Refusal> {
        self.allowed(visit, writer)
    }

    /// Makes the edit in `doc` (one transaction per step; the caller has
    /// set the device's actor).
    fn apply(&self, doc: &mut Automerge) -> Result<(), crate::Error> {
        match self {
            VisitEdit::SetText { text, value } => {
                crate::validate::text(text.name(), value)?;
                doc::update_text(doc, &text.path(), value)
            }
            VisitEdit::SetCommunication(modes) => {
                doc::put_at(doc, &["own_words"], "communication", modes)
            }
            VisitEdit::AddAction { id } => doc::put_at(doc, &["actions"], id, Action::new()),
            VisitEdit::SetActionDone { id, done } => {
                doc::put_at(doc, &["actions", id.as_str()], "done", done)
            }
            VisitEdit::AddCreative { id, method } => {
                doc::put_at(doc, &["creative"], id, CreativeObservation::new(*method))
            }
            VisitEdit::SetCreativeMethod { id, method } => {
                doc::put_at(doc, &["creative", id.as_str()], "method", method)
            }
            VisitEdit::AddPhoto(photo) => {
                crate::validate::sha256_hex("photo", &photo.sha256)?;
                crate::validate::timestamp("captured_at", &photo.captured_at)?;
                let fresh = PhotoRef {
                    removed_by: String::new(),
                    removed_at: String::new(),
                    ..photo.clone()
                };
                doc::put_in_map(doc, &[], "photos", &photo.sha256, &fresh)
            }
            VisitEdit::ShowInCreative { id, sha256 } => {
                let visit = read_visit(doc)?;
                let Some(observation) = visit.creative.get(id) else {
                    return Err(crate::Error::Invalid(
                        crate::ValidationError::UnknownPhoto {
                            sha256: sha256.clone(),
                        },
                    ));
                };
                if !visit.photos.contains_key(sha256) {
                    return Err(crate::Error::Invalid(
                        crate::ValidationError::UnknownPhoto {
                            sha256: sha256.clone(),
                        },
                    ));
                }
                if observation.photos.contains(sha256) {
                    return Ok(());
                }
                let mut photos = observation.photos.clone();
                photos.push(sha256.clone());
                doc::put_at(doc, &["creative", id.as_str()], "photos", &photos)
            }
            VisitEdit::RemovePhoto { sha256, by, at } => {
                crate::validate::timestamp("at", at)?;
                let photo = ["photos", sha256.as_str()];
                doc::put_pair_at(doc, &photo, ("removed_by", by), ("removed_at", at))
            }
            VisitEdit::AddSignificant { id, at, by } => {
                crate::validate::timestamp("at", at)?;
                let event = SignificantEvent {
                    at: at.clone(),
                    summary: Text::default(),
                    marked_by: by.clone(),
                };
                doc::put_in_map(doc, &[], "significant", id, &event)
            }
            VisitEdit::Decide {
                id,
                status,
                by,
                at,
                comment,
            } => {
                crate::validate::timestamp("at", at)?;
                crate::validate::text("comment", comment)?;
                let heads: Vec<String> = doc.get_heads().iter().map(|h| h.to_string()).collect();
                let decision = ReviewDecision {
                    status: *status,
                    by: by.clone(),
                    at: at.clone(),
                    comment: Text::with_value(comment),
                };
                // One change: a decision and the state it moves to are never
                // seen apart. Only what changes is written; reconciling the
                // whole review would rewrite texts others may be editing.
                doc::transact::<_, autosurgeon::ReconcileError>(doc, |tx| {
                    use automerge::transaction::Transactable;
                    let Some(review) = doc::map_at(tx, &["review"])? else {
                        return Err(autosurgeon::ReconcileError::Automerge(
                            automerge::AutomergeError::InvalidObjId("no review".into()),
                        ));
                    };
                    let decisions = match tx.get(&review, "decisions")? {
                        Some((automerge::Value::Object(automerge::ObjType::Map), id)) => id,
                        _ => tx.put_object(&review, "decisions", automerge::ObjType::Map)?,
                    };
                    autosurgeon::reconcile_prop(tx, &decisions, id.as_str(), &decision)?;
                    if *status == ReviewStatus::SignedOff {
                        autosurgeon::reconcile_prop(tx, &review, "signed_off_heads", &heads)?;
                    }
                    autosurgeon::reconcile_prop(tx, &review, "changed_by", by)?;
                    autosurgeon::reconcile_prop(tx, &review, "changed_at", at)?;
                    autosurgeon::reconcile_prop(tx, &review, "status", status)
                })
                .map_err(|f| crate::Error::from(f.error))?;
                Ok(())
            }
            VisitEdit::Annotate {
                id,
                field,
                from,
                to,
                body,
                author,
                at,
            } => {
                crate::validate::timestamp("at", at)?;
                crate::validate::text("annotation", body)?;
                let annotation = anchor_new(doc, *field, *from, *to)?;
                let annotation = Annotation {
                    author: author.clone(),
                    created_at: at.clone(),
                    body: Text::with_value(body),
                    ..annotation
                };
                doc::put_in_map(doc, &[], "annotations", id, &annotation)
            }
            VisitEdit::ResolveAnnotation { id, by, at } => {
                crate::validate::timestamp("at", at)?;
                let annotation = ["annotations", id.as_str()];
                doc::put_pair_at(doc, &annotation, ("resolved_by", by), ("resolved_at", at))
            }
            VisitEdit::AddAddendum {
                id,
                author,
                at,
                text,
            } => {
                crate::validate::timestamp("at", at)?;
                crate::validate::text("addendum", text)?;
                let addendum = Addendum {
                    author: author.clone(),
                    at: at.clone(),
                    text: Text::with_value(text),
                };
                doc::put_in_map(doc, &[], "addenda", id, &addendum)
            }
            VisitEdit::SetAddendumText { id, value } => {
                crate::validate::text("addendum", value)?;
                doc::update_text(doc, &["addenda", id.as_str(), "text"], value)
            }
        }
    }
}

/// Cursors for characters `from..to` of `field`, and the quote.
pub(super) fn anchor_new(
    doc: &Automerge,
    field: TextField,
    from: usize,
    to: usize,
) -> Result<Annotation, crate::Error> {
    let bad = |why: &str| {
        crate::Error::from(crate::ValidationError::BadAnchor {
            id: format!("{}: {why}", field.as_str()),
        })
    };
    let text = doc::text_at(doc, field.path())?.ok_or_else(|| bad("no text"))?;
    let whole = doc.text(&text)?;
    let chars: Vec<char> = whole.chars().collect();
    if from >= to || to > chars.len() {
        return Err(bad("select at least one character of the text"));
    }
    let start = doc.get_cursor_moving(&text, from, None, automerge::MoveCursor::After)?;
    let end = doc.get_cursor_moving(&text, to - 1, None, automerge::MoveCursor::Before)?;
    Ok(Annotation {
        author: String::new(),
        created_at: String::new(),
        field,
        start: start.to_string(),
        end: end.to_string(),
        quote: Text::with_value(chars[from..to].iter().collect::<String>()),
        body: Text::default(),
        resolved_by: String::new(),
        resolved_at: String::new(),
    })
}
