//! capvisor's gofer: the process that holds the host's file authority for one sandbox, and the protocol the sentry
//! speaks to it. See README.md in this crate for the protocol and the threat model.
//!
//! - [`proto`]: message shapes and their encoding (version 1), with the checks every decoded message passes;
//! - [`wire`]: one packet and at most one fd over a SEQPACKET socket;
//! - [`server`]: the roots and every operation performed beneath them;
//! - [`confine`]: how the gofer process confines itself before serving;
//! - [`client`]: the sentry's side: start a gofer and call it;
//! - [`sys`]: every `unsafe` wrapper the gofer needs, shared with the sentry.

pub mod client;
pub mod confine;
pub mod proto;
pub mod server;
pub mod sys;
pub mod wire;

pub use client::{spawn, Client};
pub use confine::Grant;
pub use proto::{Req, RootId, Time};
