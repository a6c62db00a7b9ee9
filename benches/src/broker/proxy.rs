//! libzmq's box: `zmq_proxy` between two bound sockets, in a peer process of
//! its own pinned to the box's core (its IO thread inherits the pin).

use crate::cli::{PeerArgs, Role};
use crate::impls::libzmq::{bindable, last_endpoint};
use crate::placement::hold_until_released;

fn err(e: impl std::fmt::Display) -> String {
    format!("libzmq proxy: {e}")
}

/// The libzmq box's process (roles `queue` and `forwarder`): pinned to its
/// core, a ROUTER/DEALER or XSUB/XPUB proxy until released.
pub fn peer(p: &PeerArgs) -> Result<(), String> {
    crate::placement::pin(p.core)?;
    let ctx = zmq::Context::new();
    match p.role {
        Role::Queue => serve(&ctx, p, zmq::ROUTER, zmq::DEALER),
        Role::Forwarder => serve(&ctx, p, zmq::XSUB, zmq::XPUB),
        other => Err(format!("the libzmq box has no {other:?} role")),
    }
}

/// Binds `frontend` and `backend` (kernel-chosen ports on the endpoint's
/// host), prints both endpoints on one line, and proxies between them until
/// the harness releases this process.
fn serve(
    ctx: &zmq::Context,
    p: &PeerArgs,
    frontend: zmq::SocketType,
    backend: zmq::SocketType,
) -> Result<(), String> {
    let front = ctx.socket(frontend).map_err(err)?;
    let back = ctx.socket(backend).map_err(err)?;
    front.bind(&bindable(&p.endpoint)).map_err(err)?;
    back.bind(&bindable(&p.endpoint)).map_err(err)?;
    println!("{} {}", last_endpoint(&front)?, last_endpoint(&back)?);
    std::io::Write::flush(&mut std::io::stdout()).map_err(err)?;
    // zmq_proxy returns only once its context is terminated, which needs its
    // sockets closed, and they are in use on this thread. Nothing is
    // measured once the harness releases the box, so the process simply
    // ends then, with success.
    std::thread::spawn(|| {
        hold_until_released();
        std::process::exit(0)
    });
    zmq::proxy(&front, &back).map_err(err)
}
