//! Small helpers that every concern uses and that are no concern of their own: locking
//! (and the model checker's primitives), deadlines that cannot overflow, catching panics,
//! and a stderr that may be gone.

pub(crate) mod clock;
pub(crate) mod stderr;
pub(crate) mod sync;
pub(crate) mod unwind;
