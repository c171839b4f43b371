//! Consumer groups: the classic group protocol, committed offsets, and their storage in the
//! compacted `__consumer_offsets` topic.

pub mod coordinator;
pub mod state;
pub mod store;

pub use coordinator::{GroupCoordinator, GroupSettings, JoinArgs, MemberRef, Pending};
