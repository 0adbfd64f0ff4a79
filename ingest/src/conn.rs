//! Connection limits of the gRPC and admin listeners (README.md,
//! "Connection limits"): at most `max_connections` at once (one more is
//! closed as it is accepted, and counted), and a connection that sends
//! nothing for `idle` is closed — also before any request or
//! authentication, so half-sent requests and bare HTTP/2 prefaces cannot
//! hold file descriptors. HTTP/2 clients answer the server's keepalive
//! pings, so a quiet but healthy client (a `Stats/Watch` dashboard) is
//! never idle that long.
use crate::telemetry::metrics as m;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

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
    _permit: OwnedSemaphorePermit,
}

impl Guarded {
    /// The peer's address.
    pub fn peer(&self) -> Option<std::net::SocketAddr> {
        self.inner.peer_addr().ok()
    }

    fn new(inner: TcpStream, idle: Duration, permit: OwnedSemaphorePermit) -> Guarded {
        Guarded {
            inner,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
            last_read: Instant::now(),
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
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.last_read = Instant::now();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => loop {
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

/// Accepts connections within `limits`: the next one under the cap, with
/// `TCP_NODELAY`. An accept error (out of file descriptors) is logged and
/// retried after a pause, never the end of the listener.
pub async fn accept(listener: &TcpListener, slots: &Arc<Semaphore>, limits: Limits) -> Guarded {
    loop {
        let s = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            m::connection_closed("over_limit");
            drop(s);
            continue;
        };
        // Nagle's algorithm off: a small response held back for a delayed
        // ACK costs 40 ms.
        let _ = s.set_nodelay(true);
        return Guarded::new(s, limits.idle, permit);
    }
}

/// The listener's connections as a stream (for tonic's `serve_with_incoming`).
pub fn incoming(
    listener: TcpListener,
    limits: Limits,
) -> impl tokio_stream::Stream<Item = io::Result<Guarded>> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    futures_util::stream::unfold((listener, slots), move |(l, slots)| async move {
        let g = accept(&l, &slots, limits).await;
        Some((Ok(g), (l, slots)))
    })
}
