//! Who may see which document: a pure decision over facts the database
//! gathered, so the rule is tested without a socket or a file.
//!
//! A device acts for one person. That person may see a case when they are
//! assigned to it, or when they supervise a worker who is. A document is
//! visible when it is registered to a visible case. Everything else is
//! denied, and a denied document is indistinguishable from a missing one.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Worker,
    Supervisor,
    Reviewer,
    Admin,
}

/// What the database knows about one (device, document) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub device_revoked: bool,
    pub role: Role,
    /// The case the document is registered to, if any.
    pub document_case: Option<String>,
    /// The person is assigned to that case.
    pub assigned: bool,
    /// A worker the person supervises is assigned to that case.
    pub supervises_assignee: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow { case_id: String },
    Deny(DenyReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    DeviceRevoked,
    UnknownDocument,
    NotAssigned,
}

impl DenyReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::DeviceRevoked => "device_revoked",
            DenyReason::UnknownDocument => "unknown_document",
            DenyReason::NotAssigned => "not_assigned",
        }
    }
}

pub fn decide(facts: &Facts) -> Decision {
    if facts.device_revoked {
        return Decision::Deny(DenyReason::DeviceRevoked);
    }
    let Some(case_id) = &facts.document_case else {
        return Decision::Deny(DenyReason::UnknownDocument);
    };
    let through_supervision = facts.role == Role::Supervisor && facts.supervises_assignee;
    if facts.assigned || through_supervision {
        Decision::Allow {
            case_id: case_id.clone(),
        }
    } else {
        Decision::Deny(DenyReason::NotAssigned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            device_revoked: false,
            role: Role::Worker,
            document_case: Some("case-1".into()),
            assigned: true,
            supervises_assignee: false,
        }
    }

    #[test]
    fn an_assigned_worker_sees_the_case() {
        assert_eq!(
            decide(&facts()),
            Decision::Allow {
                case_id: "case-1".into()
            }
        );
    }

    #[test]
    fn an_unassigned_worker_does_not() {
        let f = Facts {
            assigned: false,
            supervises_assignee: true,
            ..facts()
        };
        assert_eq!(decide(&f), Decision::Deny(DenyReason::NotAssigned));
    }

    #[test]
    fn a_supervisor_sees_their_workers_cases() {
        let f = Facts {
            role: Role::Supervisor,
            assigned: false,
            supervises_assignee: true,
            ..facts()
        };
        assert!(matches!(decide(&f), Decision::Allow { .. }));
    }

    #[test]
    fn a_reviewer_sees_the_cases_given_to_them_and_no_others() {
        let given = Facts {
            role: Role::Reviewer,
            ..facts()
        };
        assert!(matches!(decide(&given), Decision::Allow { .. }));
        let not_given = Facts {
            role: Role::Reviewer,
            assigned: false,
            supervises_assignee: true,
            ..facts()
        };
        assert_eq!(decide(&not_given), Decision::Deny(DenyReason::NotAssigned));
    }

    #[test]
    fn an_admin_sees_nothing_unless_assigned() {
        let f = Facts {
            role: Role::Admin,
            assigned: false,
            supervises_assignee: true,
            ..facts()
        };
        assert_eq!(decide(&f), Decision::Deny(DenyReason::NotAssigned));
    }

    #[test]
    fn unknown_documents_and_revoked_devices_are_denied() {
        let f = Facts {
            document_case: None,
            ..facts()
        };
        assert_eq!(decide(&f), Decision::Deny(DenyReason::UnknownDocument));
        let f = Facts {
            device_revoked: true,
            ..facts()
        };
        assert_eq!(decide(&f), Decision::Deny(DenyReason::DeviceRevoked));
    }
}
