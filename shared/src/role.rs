//! Who a person is in the practice, which decides what their devices may
//! read and write. Below every record kind and the API, which both use it.

string_enum! {
    /// A worker writes their cases' records; a supervisor reviews,
    /// annotates and signs off; a reviewer (quality review, audit, a second
    /// opinion) reads the cases given to them and writes no record; an
    /// admin runs the practice.
    Role {
        Worker => "worker", Supervisor => "supervisor",
        Reviewer => "reviewer", Admin => "admin",
    }
}
