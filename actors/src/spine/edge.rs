//! The message types of the dataflow edges: a typed domain message travels wrapped in
//! [`Edge`], and an actor learns its downstream recipients by [`Subscribe`]. Who sends what
//! to whom is wired in [`super::dataflow`].
//!
//! Domain message types live in the core (`prometheus::domain`) and know nothing of actix.

use actix::{Message, Recipient};

/// A typed domain message travelling along a dataflow edge.
#[derive(Clone, Debug)]
pub struct Edge<T>(pub T);

impl<T: Send + 'static> Message for Edge<T> {
    type Result = ();
}

/// Adds a downstream recipient of an actor's `T` messages.
pub struct Subscribe<T: Send + 'static>(pub Recipient<Edge<T>>);

impl<T: Send + 'static> Message for Subscribe<T> {
    type Result = ();
}

/// The edge type of an actor with no upstream edge: no value of it exists.
#[derive(Clone, Copy, Debug)]
pub enum NoInput {}

/// The edge type of an actor with no downstream edge yet.
#[derive(Clone, Copy, Debug)]
pub enum NoOutput {}
