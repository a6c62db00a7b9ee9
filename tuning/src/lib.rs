//! Host tuning for Monocoque: what the host is ([`Host`], read from a
//! sysfs/procfs root), where each service runs under its profile
//! ([`plan::plan`]), and which host settings hurt that plan ([`check::check`]).
//!
//! ```
//! use monocoque_tuning::{plan, Host, Profile};
//! # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vm-2vcpu");
//! let host = Host::read(&dir).unwrap();
//! let services = [plan::ServiceRequest {
//!     name: "md".into(),
//!     profile: None,
//!     cpu: None,
//!     io_cores: plan::IoCoresRequest::None,
//! }];
//! let p = plan::plan(&host, Profile::Latency, &services).unwrap();
//! assert_eq!(p.services[0].cpu, Some(1)); // CPU 0 stays for the OS
//! ```
//!
//! Depends on no other Monocoque crate: it only reads files and decides.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod check;
pub mod cpu_list;
pub mod host;
pub mod plan;
pub mod profile;

pub use host::{Host, HostError};
pub use profile::Profile;
