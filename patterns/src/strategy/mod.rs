//! Routing strategies: how a socket type picks a peer to send to or read from,
//! and what envelope it adds or strips. Plain data, no IO.

mod fair_queue;
mod load_balancer;
mod publisher_state;
mod rep_state;
mod req_state;
mod round_robin;
mod routing_table;
mod subscriber_filter;
mod subscription_trie;

pub use fair_queue::FairQueue;
pub use load_balancer::LoadBalancer;
pub use publisher_state::{OverLimit, PublisherState};
pub use rep_state::RepState;
pub use req_state::{ReqOptions, ReqState};
pub use routing_table::{Registration, RoutingTable};
pub use subscriber_filter::SubscriberFilter;
pub use subscription_trie::{Holding, Subscribed, SubscriptionTrie, Unsubscribed};
