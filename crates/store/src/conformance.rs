//! The backend conformance suite: behaviour every `Store` must show, run unchanged against each
//! backend. (Filled in by the store work.)
