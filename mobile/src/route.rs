//! Where the app is, as a URL fragment: a reload, the back button and a
//! bookmark on the home screen all return to the same screen, and the
//! service worker only ever has to serve one page.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Cases,
    Case { case_id: String },
    Visit { case_id: String, visit_id: String },
}

impl Route {
    pub fn to_fragment(&self) -> String {
        match self {
            Route::Cases => "#/cases".into(),
            Route::Case { case_id } => format!("#/cases/{case_id}"),
            Route::Visit { case_id, visit_id } => format!("#/cases/{case_id}/visits/{visit_id}"),
        }
    }

    /// Anything unrecognised is the case list: a stale link never strands
    /// the worker on a blank page.
    pub fn from_fragment(fragment: &str) -> Route {
        let parts: Vec<&str> = fragment
            .trim_start_matches('#')
            .split('/')
            .filter(|p| !p.is_empty())
            .collect();
        let ok = |s: &str| fieldvisit_shared::validate::id("id", s).is_ok();
        match parts.as_slice() {
            ["cases", case_id] if ok(case_id) => Route::Case {
                case_id: (*case_id).to_owned(),
            },
            ["cases", case_id, "visits", visit_id] if ok(case_id) && ok(visit_id) => Route::Visit {
                case_id: (*case_id).to_owned(),
                visit_id: (*visit_id).to_owned(),
            },
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
        ] {
            assert_eq!(Route::from_fragment(&route.to_fragment()), route);
        }
        assert_eq!(Route::from_fragment("#/cases/<script>"), Route::Cases);
        assert_eq!(Route::from_fragment(""), Route::Cases);
    }
}
