//! Connection limits of the gRPC and admin listeners (README.md,
//! "Connection limits"): at most `max_connections` at once, and a
//! connection that sends nothing for `idle` is closed — also before any
//! request or authentication, so half-sent requests and bare HTTP/2
//! prefaces cannot hold file descriptors. HTTP/2 clients answer the
//! server's keepalive pings, so a quiet but healthy client (a
//! `Stats/Watch` dashboard) is never idle that long.
//!
//! At the cap, a new connection displaces the oldest one that has not yet
//! sent a request's worth of bytes (a flood of bare prefaces cannot lock
//! the gateway out for the idle limit); when every held connection has,
//! the new one is closed as it is accepted. Both are counted.
use crate::telemetry::metrics as m;
use futures_util::task::AtomicWaker;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::{Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// Bytes a connection has sent below which it has made no request yet (an
/// HTTP/2 preface and settings are about 50; a gRPC call's headers and a
/// contact several hundred; an HTTP/1 request line and headers about 100).
const QUIET_BYTES: u64 = 96;
/// How long a new connection waits for the slot of the one it displaced.
const DISPLACE_WAIT: Duration = Duration::from_millis(200);

/// What the listener keeps of a connection it holds.
#[derive(Default)]
struct Live {
    bytes: AtomicU64,
    displaced: AtomicBool,
    waker: AtomicWaker,
}

/// A listener's slots and the connections holding them, oldest first.
pub struct Slots {
    sem: Arc<Semaphore>,
    live: Mutex<VecDeque<Weak<Live>>>,
    max: usize,
}

impl Slots {
    pub fn new(max_connections: usize) -> Arc<Slots> {
        let max = max_connections.max(1);
        Arc::new(Slots {
            sem: Arc::new(Semaphore::new(max)),
            live: Mutex::new(VecDeque::with_capacity(max)),
            max,
        })
    }

    /// Remembers a held connection. Closed ones are forgotten when the list
    /// reaches twice the cap (at most `max` are alive), not on every accept.
    fn hold(&self, live: &Arc<Live>) {
        if let Ok(mut l) = self.live.lock() {
            if l.len() >= 2 * self.max {
                l.retain(|w| w.strong_count() > 0);
            }
            l.push_back(Arc::downgrade(live));
        }
    }

    /// Closes the oldest held connection that has made no request; whether
    /// there was one.
    fn displace_one(&self) -> bool {
        let Ok(mut l) = self.live.lock() else {
            return false;
        };
        l.retain(|w| w.strong_count() > 0);
        let victim = l.iter().position(|w| {
            w.upgrade().is_some_and(|c| {
                !c.displaced.load(Ordering::Relaxed)
                    && c.bytes.load(Ordering::Relaxed) < QUIET_BYTES
            })
        });
        let Some(c) = victim.and_then(|i| l.remove(i)).and_then(|w| w.upgrade()) else {
            return false;
        };
        c.displaced.store(true, Ordering::Release);
        c.waker.wake();
        true
    }
}

/// The limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub idle: Duration,
}

/// An accepted connection under its limits.
pub struct Guarded {
    inner: TcpStream,
    idle: Duration,
    /// Armed for `idle` after the last read that brought bytes, but moved
    /// only when it fires: a read notes its time (one clock read), and the
    /// timer wheel is touched once per idle period, not once per read.
    deadline: Pin<Box<Sleep>>,
    last_read: Instant,
    live: Arc<Live>,
    _permit: OwnedSemaphorePermit,
}

impl Guarded {
    /// The peer's address.
    pub fn peer(&self) -> Option<std::net::SocketAddr> {
        self.inner.peer_addr().ok()
    }

    fn new(
        inner: TcpStream,
        idle: Duration,
        live: Arc<Live>,
        permit: OwnedSemaphorePermit,
    ) -> Guarded {
        Guarded {
            inner,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
            last_read: Instant::now(),
            live,
            _permit: permit,
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.live.displaced.load(Ordering::Acquire) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "displaced by a new connection at the cap",
            )));
        }
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len() - before;
                if n > 0 {
                    self.last_read = Instant::now();
                    if self.live.bytes.load(Ordering::Relaxed) < QUIET_BYTES {
                        self.live.bytes.fetch_add(n as u64, Ordering::Relaxed);
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => loop {
                self.live.waker.register(cx.waker());
                if self.live.displaced.load(Ordering::Acquire) {
                    break Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "displaced by a new connection at the cap",
                    )));
                }
                match self.deadline.as_mut().poll(cx) {
                    Poll::Pending => break Poll::Pending,
                    // Bytes came since it was armed: re-arm from the last read.
                    Poll::Ready(()) if self.last_read + self.idle > Instant::now() => {
                        let next = self.last_read + self.idle;
                        self.deadline.as_mut().reset(next);
                    }
                    Poll::Ready(()) => {
                        m::connection_closed("idle");
                        break Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "connection idle too long",
                        )));
                    }
                }
            },
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for Guarded {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

/// Accepts connections within `limits`: the next one under the cap (at
/// the cap, in the place of a held one that has made no request), with
/// `TCP_NODELAY`. An accept error (out of file descriptors) is logged and
/// retried after a pause, never the end of the listener.
pub async fn accept(listener: &TcpListener, slots: &Arc<Slots>, limits: Limits) -> Guarded {
    loop {
        let s = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let permit = match slots.sem.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) if slots.displace_one() => {
                m::connection_closed("displaced");
                match tokio::time::timeout(DISPLACE_WAIT, slots.sem.clone().acquire_owned()).await {
                    Ok(Ok(p)) => p,
                    _ => {
                        m::connection_closed("over_limit");
                        continue;
                    }
                }
            }
            Err(_) => {
                m::connection_closed("over_limit");
                drop(s);
                continue;
            }
        };
        // Nagle's algorithm off: a small response held back for a delayed
        // ACK costs 40 ms.
        let _ = s.set_nodelay(true);
        let live = Arc::new(Live::default());
        slots.hold(&live);
        return Guarded::new(s, limits.idle, live, permit);
    }
}

/// The listener's connections as a stream (for tonic's `serve_with_incoming`).
pub fn incoming(
    listener: TcpListener,
    limits: Limits,
) -> impl tokio_stream::Stream<Item = io::Result<Guarded>> {
    let slots = Slots::new(limits.max_connections);
    futures_util::stream::unfold((listener, slots), move |(l, slots)| async move {
        let g = accept(&l, &slots, limits).await;
        Some((Ok(g), (l, slots)))
    })
}
