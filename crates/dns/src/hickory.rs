//! The production [`Resolver`](crate::Resolver) over hickory-resolver (being written; see issue 3).
