//! Peer co-op nodes.
