//! What one network address and one socket may cost the relay before a single frame is read:
//! at most so many open sockets per address, and a socket that sends nothing for the idle
//! timeout is closed (a half-open socket, a slowloris before its upgrade, a phone gone without
//! a FIN). Past the upgrade the relay pings every third of the timeout, so a live device's
//! pongs keep its socket open while it has nothing to say.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

/// Counts open sockets per address and admits new ones under the cap.
#[derive(Debug)]
pub struct Admission {
    max_per_address: usize,
    idle: Duration,
    open: Mutex<HashMap<IpAddr, usize>>,
    refused: AtomicU64,
    timed_out: AtomicU64,
}

impl Admission {
    /// At most `max_per_address` open sockets per address (0: no cap); a socket silent for
    /// `idle` is closed.
    pub fn new(max_per_address: usize, idle: Duration) -> Arc<Self> {
        Arc::new(Self {
            max_per_address,
            idle,
            open: Mutex::new(HashMap::new()),
            refused: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
        })
    }

    /// The socket wrapped with its slot and idle timer, or `None` if its address holds its
    /// cap already (the caller drops the socket: the cheapest refusal there is).
    pub fn admit<S>(self: &Arc<Self>, io: S, addr: IpAddr) -> Option<Guarded<S>> {
        {
            // Each entry is one counter, so a panic elsewhere cannot leave one half-made: a
            // poisoned lock is used as it is.
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            let n = open.entry(addr).or_insert(0);
            if self.max_per_address > 0 && *n >= self.max_per_address {
                self.refused.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            *n += 1;
        }
        Some(Guarded {
            io,
            slot: Slot {
                admission: self.clone(),
                addr,
            },
            idle: self.idle,
            last_read: Instant::now(),
            timer: Box::pin(tokio::time::sleep(self.idle)),
        })
    }

    /// Its figures for `/metrics` (no addresses in them).
    pub fn render(&self) -> String {
        let open: usize = self
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .sum();
        format!(
            "# HELP groundwork_sockets_open Open sockets, upgraded or not.\n\
             # TYPE groundwork_sockets_open gauge\ngroundwork_sockets_open {open}\n\
             # HELP groundwork_sockets_refused_total Sockets dropped as they came: their address held its cap.\n\
             # TYPE groundwork_sockets_refused_total counter\ngroundwork_sockets_refused_total {}\n\
             # HELP groundwork_sockets_timed_out_total Sockets closed after their peer sent nothing for the idle timeout.\n\
             # TYPE groundwork_sockets_timed_out_total counter\ngroundwork_sockets_timed_out_total {}\n",
            self.refused.load(Ordering::Relaxed),
            self.timed_out.load(Ordering::Relaxed),
        )
    }

    /// Open sockets from `addr` now.
    pub fn open_from(&self, addr: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&addr).copied().unwrap_or(0)
    }
}

/// An admitted socket's place in its address's count, given back when the socket is dropped.
#[derive(Debug)]
struct Slot {
    admission: Arc<Admission>,
    addr: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .admission
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.addr);
            }
        }
    }
}

/// A socket that fails its reads with `TimedOut` once its peer has sent nothing for the idle
/// timeout. Writes do not count as life: a kernel takes writes for a peer long gone.
#[derive(Debug)]
pub struct Guarded<S> {
    io: S,
    slot: Slot,
    idle: Duration,
    last_read: Instant,
    timer: Pin<Box<Sleep>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    // The timer is moved lazily, when it fires: a read costs a clock read.
                    this.last_read = Instant::now();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => loop {
                let deadline = this.last_read + this.idle;
                if this.timer.deadline() != deadline {
                    this.timer.as_mut().reset(deadline);
                }
                match this.timer.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) if Instant::now() >= deadline => {
                        this.slot
                            .admission
                            .timed_out
                            .fetch_add(1, Ordering::Relaxed);
                        return Poll::Ready(Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "the peer sent nothing for the idle timeout",
                        )));
                    }
                    Poll::Ready(()) => {}
                }
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Accepts TCP connections and admits them ([`Admission`]).
pub struct GuardedListener {
    tcp: TcpListener,
    admission: Arc<Admission>,
}

impl GuardedListener {
    /// Accepts on `tcp` under `admission`.
    pub fn new(tcp: TcpListener, admission: Arc<Admission>) -> Self {
        Self { tcp, admission }
    }

    /// The next admitted socket (refused ones are dropped as they come).
    pub async fn accept_admitted(&mut self) -> (Guarded<TcpStream>, SocketAddr) {
        loop {
            match self.tcp.accept().await {
                Ok((stream, addr)) => {
                    // Small frames are the protocol's common case; Nagle would hold them.
                    let _ = stream.set_nodelay(true);
                    match self.admission.admit(stream, addr.ip()) {
                        Some(guarded) => return (guarded, addr),
                        None => tracing::debug!("refused a socket: its address holds its cap"),
                    }
                }
                Err(e) => {
                    // Out of file descriptors, most likely: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// The address listened on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

impl Listener for GuardedListener {
    type Io = Guarded<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        self.accept_admitted().await
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        GuardedListener::local_addr(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn the_cap_is_per_address_and_freed_on_drop() {
        let admission = Admission::new(2, Duration::from_secs(60));
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let first = admission.admit((), a);
        let second = admission.admit((), a);
        assert!(first.is_some() && second.is_some());
        assert!(admission.admit((), a).is_none(), "a third socket from a");
        assert!(admission.admit((), b).is_some(), "b has its own count");
        drop(first);
        assert_eq!(admission.open_from(a), 1);
        assert!(admission.admit((), a).is_some(), "a slot came back");
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_times_out_and_a_talking_one_does_not()
    -> Result<(), Box<dyn std::error::Error>> {
        let admission = Admission::new(0, Duration::from_secs(90));
        let (mut near, far) = tokio::io::duplex(64);
        let mut guarded = admission
            .admit(far, [10, 0, 0, 1].into())
            .ok_or("refused without a cap")?;
        let mut buf = [0u8; 8];
        // Talking every 60 s keeps it open past the 90 s timeout.
        // Each read waits first (its timer armed), then the peer talks 60 s later.
        for _ in 0..3 {
            let (read, wrote) = tokio::join!(guarded.read(&mut buf), async {
                tokio::time::advance(Duration::from_secs(60)).await;
                tokio::io::AsyncWriteExt::write_all(&mut near, b"x").await
            });
            wrote?;
            assert_eq!(read?, 1);
        }
        let silent = guarded.read(&mut buf).await;
        assert_eq!(
            silent.err().map(|e| e.kind()),
            Some(std::io::ErrorKind::TimedOut),
            "silent for 90 s"
        );
        Ok(())
    }
}
