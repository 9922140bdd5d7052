//! `string_enum!`, for the closed sets of values (a role, a kind, a review
//! state) that are stored in documents and sent in JSON as snake_case
//! strings: one list of variants and their strings, so the stored form, the
//! JSON form and `parse` cannot disagree.

/// Declares a closed set of values stored as snake_case strings, with the
/// conversions the API and the UI need.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, autosurgeon::Reconcile,
                 autosurgeon::Hydrate, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $(#[autosurgeon(rename = $text)] #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(value: &str) -> Option<Self> {
                match value { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        /// Compares with the stored string, as tests and old callers do.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
