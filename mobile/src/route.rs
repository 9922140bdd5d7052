//! Where the app is, as a URL fragment: a reload, the back button and a
//! bookmark on the home screen all return to the same screen, and the
//! service worker only ever has to serve one page.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Cases,
    Case {
        case_id: String,
    },
    Visit {
        case_id: String,
        visit_id: String,
    },
    /// The practice's case record; `at`: as it stood then (RFC 3339);
    /// `focus`: a document, or `document~passage`, to open it at.
    Record {
        case_id: String,
        at: Option<String>,
        focus: Option<String>,
    },
    /// A safeguarding concern of a case.
    Concern {
        case_id: String,
        concern_id: String,
    },
    /// A mental capacity assessment of a case.
    Capacity {
        case_id: String,
        assessment_id: String,
    },
    Search,
    Audit,
    /// This person's devices (and, for the practice admin, anyone's).
    Devices,
}

/// A value carried in a fragment's query: plain enough never to need
/// escaping (times, ids, passage keys).
fn plain(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":._+~-".contains(&b))
}

impl Route {
    pub fn to_fragment(&self) -> String {
        match self {
            Route::Cases => "#/cases".into(),
            Route::Case { case_id } => format!("#/cases/{case_id}"),
            Route::Visit { case_id, visit_id } => format!("#/cases/{case_id}/visits/{visit_id}"),
            Route::Record { case_id, at, focus } => {
                let query: Vec<String> = [("at", at), ("focus", focus)]
                    .into_iter()
                    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
                    .collect();
                if query.is_empty() {
                    format!("#/cases/{case_id}/record")
                } else {
                    format!("#/cases/{case_id}/record?{}", query.join("&"))
                }
            }
            Route::Concern {
                case_id,
                concern_id,
            } => format!("#/cases/{case_id}/concerns/{concern_id}"),
            Route::Capacity {
                case_id,
                assessment_id,
            } => format!("#/cases/{case_id}/capacity/{assessment_id}"),
            Route::Search => "#/search".into(),
            Route::Audit => "#/audit".into(),
            Route::Devices => "#/devices".into(),
        }
    }

    /// Anything unrecognised is the case list: a stale link never strands
    /// the worker on a blank page.
    pub fn from_fragment(fragment: &str) -> Route {
        let (path, query) = fragment
            .trim_start_matches('#')
            .split_once('?')
            .unwrap_or((fragment.trim_start_matches('#'), ""));
        let param = |key: &str| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(k, v)| *k == key && plain(v))
                .map(|(_, v)| v.to_owned())
        };
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let ok = |s: &str| fieldvisit_shared::validate::id("id", s).is_ok();
        match parts.as_slice() {
            ["cases", case_id] if ok(case_id) => Route::Case {
                case_id: (*case_id).to_owned(),
            },
            ["cases", case_id, "visits", visit_id] if ok(case_id) && ok(visit_id) => Route::Visit {
                case_id: (*case_id).to_owned(),
                visit_id: (*visit_id).to_owned(),
            },
            ["cases", case_id, "concerns", concern_id] if ok(case_id) && ok(concern_id) => {
                Route::Concern {
                    case_id: (*case_id).to_owned(),
                    concern_id: (*concern_id).to_owned(),
                }
            }
            ["cases", case_id, "capacity", assessment_id] if ok(case_id) && ok(assessment_id) => {
                Route::Capacity {
                    case_id: (*case_id).to_owned(),
                    assessment_id: (*assessment_id).to_owned(),
                }
            }
            ["cases", case_id, "record"] if ok(case_id) => Route::Record {
                case_id: (*case_id).to_owned(),
                at: param("at"),
                focus: param("focus"),
            },
            ["search"] => Route::Search,
            ["audit"] => Route::Audit,
            ["devices"] => Route::Devices,
            _ => Route::Cases,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_round_trip_and_junk_goes_home() {
        for route in [
            Route::Cases,
            Route::Case {
                case_id: "case-1".into(),
            },
            Route::Visit {
                case_id: "case-1".into(),
                visit_id: "2X8oE1a9".into(),
            },
            Route::Record {
                case_id: "case-1".into(),
                at: None,
                focus: None,
            },
            Route::Concern {
                case_id: "case-1".into(),
                concern_id: "3Yq8oE1a9".into(),
            },
            Route::Capacity {
                case_id: "case-1".into(),
                assessment_id: "4Zr8oE1a9".into(),
            },
            Route::Record {
                case_id: "case-1".into(),
                at: Some("2026-11-27T09:30:00.000Z".into()),
                focus: Some("2X8oE1a9~field:observations".into()),
            },
            Route::Search,
            Route::Audit,
            Route::Devices,
        ] {
            assert_eq!(Route::from_fragment(&route.to_fragment()), route);
        }
        assert_eq!(Route::from_fragment("#/cases/<script>"), Route::Cases);
        assert_eq!(Route::from_fragment(""), Route::Cases);
        assert_eq!(
            Route::from_fragment("#/cases/c1/record?at=<b>&focus=x\"y"),
            Route::Record {
                case_id: "c1".into(),
                at: None,
                focus: None
            },
            "anything odd in the query is dropped"
        );
    }
}
