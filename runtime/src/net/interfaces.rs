//! The addresses of a network interface, by name (getifaddrs(3)): how
//! libzmq's `tcp://eth0:5555` finds what to bind.

use std::ffi::CStr;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// The IPv4 and IPv6 addresses of the interface `name` (port 0; an IPv6
/// one with its scope id, which a link-local address needs to be bound),
/// in the order the kernel lists them; empty when no interface has that
/// name (or it has no address).
///
/// ```
/// let lo = monocoque_runtime::net::interface_addresses("lo").unwrap();
/// assert!(lo.contains(&"127.0.0.1:0".parse().unwrap()));
/// assert!(monocoque_runtime::net::interface_addresses("no-such-nic0").unwrap().is_empty());
/// ```
pub fn interface_addresses(name: &str) -> io::Result<Vec<SocketAddr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list it allocated, freed below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut found = Vec::new();
    let mut node = head;
    while !node.is_null() {
        // SAFETY: `node` is a live entry of the list getifaddrs returned.
        let entry = unsafe { &*node };
        node = entry.ifa_next;
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let entry_name = unsafe { CStr::from_ptr(entry.ifa_name) };
        if entry_name.to_bytes() != name.as_bytes() || entry.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_addr points to a sockaddr whose family says its type.
        let family = unsafe { (*entry.ifa_addr).sa_family } as libc::c_int;
        match family {
            libc::AF_INET => {
                // SAFETY: the family says it is a sockaddr_in.
                let sin = unsafe { &*entry.ifa_addr.cast::<libc::sockaddr_in>() };
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                found.push(SocketAddr::V4(SocketAddrV4::new(ip, 0)));
            }
            libc::AF_INET6 => {
                // SAFETY: the family says it is a sockaddr_in6.
                let sin6 = unsafe { &*entry.ifa_addr.cast::<libc::sockaddr_in6>() };
                let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                found.push(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    0,
                    0,
                    sin6.sin6_scope_id,
                )));
            }
            _ => {}
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once, after the last use.
    unsafe { libc::freeifaddrs(head) };
    Ok(found)
}
