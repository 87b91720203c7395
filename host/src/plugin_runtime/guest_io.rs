//! The guest's stdio, and `wasi:io` streams and polling that never block the calling thread.
//!
//! Two problems with wasmtime-wasi's synchronous `wasi:io` bindings decide this file:
//! - their blocking methods (`blocking-write-and-flush`, which Rust's `eprintln!` and the
//!   panic hook use, the stream destructors, `poll`, `pollable.block`) run a future with
//!   `Handle::block_on`, which panics when the caller is a tokio worker thread — and the
//!   server calls the plugin from tokio workers;
//! - inheriting the host's stdio would let a guest interleave raw bytes into our logs.
//!
//! So the guest's stdout is discarded, its stderr goes to a small in-memory tail that the
//! runtime reads after a trap (it holds the guest's panic message), and the `wasi:io/streams`
//! and `wasi:io/poll` bindings are replaced by ones that poll each future exactly once. Our
//! streams are always ready, so writes complete; anything that would really wait (sleeping on
//! a clock, reading a stream that has no data) traps instead: a policy decision must not wait.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime::component::{HasData, Resource, ResourceTable};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::bindings::sync::io::{poll, streams};
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, DynPollable, OutputStream, Pollable, StreamError, StreamResult,
};
use wasmtime_wasi_io::bindings::wasi::io::poll as async_poll;
use wasmtime_wasi_io::bindings::wasi::io::streams::{
    HostInputStream as AsyncInput, HostOutputStream as AsyncOutput,
};

/// Bytes of guest stderr kept (the most recent ones). A panic message with its location is
/// a few hundred bytes; older output is dropped.
const STDERR_TAIL_BYTES: usize = 4096;

const WOULD_BLOCK: &str =
    "the policy plugin tried to wait (sleep, poll or a blocking read); plugin calls must not block";

/// The guest's stderr: keeps the last [`STDERR_TAIL_BYTES`] written. Cloning shares the buffer.
#[derive(Debug, Clone, Default)]
pub(crate) struct StderrTail {
    buf: Arc<Mutex<VecDeque<u8>>>,
}

impl StderrTail {
    fn push(&self, bytes: &[u8]) {
        let mut buf = self.buf.lock().unwrap_or_else(PoisonError::into_inner);
        let bytes = bytes
            .get(bytes.len().saturating_sub(STDERR_TAIL_BYTES)..)
            .unwrap_or(bytes);
        let overflow = (buf.len() + bytes.len()).saturating_sub(STDERR_TAIL_BYTES);
        let n = overflow.min(buf.len());
        buf.drain(..n);
        buf.extend(bytes);
    }

    /// Empties the tail; called before each guest call so a trap reads only its own output.
    pub(crate) fn clear(&self) {
        let mut buf = self.buf.lock().unwrap_or_else(PoisonError::into_inner);
        if !buf.is_empty() {
            buf.clear();
        }
    }

    /// What the guest wrote since the last [`Self::clear`] (lossy UTF-8).
    pub(crate) fn contents(&self) -> String {
        let buf = self.buf.lock().unwrap_or_else(PoisonError::into_inner);
        let (a, b) = buf.as_slices();
        let mut v = Vec::with_capacity(a.len() + b.len());
        v.extend_from_slice(a);
        v.extend_from_slice(b);
        String::from_utf8_lossy(&v).into_owned()
    }
}

/// Extracts the useful part of a guest's stderr after a trap: a Rust panic's location and
/// message, or an allocation failure, folded onto one line.
pub(crate) fn panic_summary(stderr: &str) -> Option<String> {
    if let Some(start) = stderr.rfind("panicked at ") {
        let rest = stderr.get(start..).unwrap_or_default();
        let lines: Vec<&str> = rest
            .lines()
            .take_while(|l| !l.starts_with("note: ") && !l.starts_with("stack backtrace"))
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        return Some(lines.join(" ").chars().take(512).collect());
    }
    stderr
        .lines()
        .rev()
        .find(|l| l.contains("memory allocation of"))
        .map(|l| l.trim().chars().take(512).collect())
}

impl OutputStream for StderrTail {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        // Always ready; `blocking-write-and-flush` writes at most 4096 bytes at a time.
        Ok(64 << 10)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for StderrTail {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for StderrTail {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for StderrTail {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StderrTail {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// Polls `f` once; `None` if it would have to wait.
fn now<F: Future>(f: F) -> Option<F::Output> {
    wasmtime_wasi::runtime::poll_noop(pin!(f))
}

fn would_block() -> StreamError {
    StreamError::trap(WOULD_BLOCK)
}

/// `HasData` marker for the non-blocking `wasi:io` bindings.
pub(crate) struct NonBlockingIo;

impl HasData for NonBlockingIo {
    type Data<'a> = NonBlockingTable<'a>;
}

/// The instance's resource table, seen through the non-blocking bindings.
pub(crate) struct NonBlockingTable<'a>(pub(crate) &'a mut ResourceTable);

impl streams::Host for NonBlockingTable<'_> {
    fn convert_stream_error(&mut self, err: StreamError) -> wasmtime::Result<streams::StreamError> {
        streams::Host::convert_stream_error(self.0, err)
    }
}

impl streams::HostOutputStream for NonBlockingTable<'_> {
    fn drop(&mut self, stream: Resource<DynOutputStream>) -> wasmtime::Result<()> {
        // Our streams finish instantly; if one ever would not, dropping the future drops it.
        now(AsyncOutput::drop(self.0, stream)).unwrap_or(Ok(()))
    }
    fn check_write(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<u64> {
        AsyncOutput::check_write(self.0, stream)
    }
    fn write(&mut self, stream: Resource<DynOutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
        AsyncOutput::write(self.0, stream, bytes)
    }
    fn blocking_write_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        bytes: Vec<u8>,
    ) -> StreamResult<()> {
        now(AsyncOutput::blocking_write_and_flush(self.0, stream, bytes))
            .unwrap_or_else(|| Err(would_block()))
    }
    fn blocking_write_zeroes_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        len: u64,
    ) -> StreamResult<()> {
        now(AsyncOutput::blocking_write_zeroes_and_flush(
            self.0, stream, len,
        ))
        .unwrap_or_else(|| Err(would_block()))
    }
    fn subscribe(
        &mut self,
        stream: Resource<DynOutputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        AsyncOutput::subscribe(self.0, stream)
    }
    fn write_zeroes(&mut self, stream: Resource<DynOutputStream>, len: u64) -> StreamResult<()> {
        AsyncOutput::write_zeroes(self.0, stream, len)
    }
    fn flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        AsyncOutput::flush(self.0, stream)
    }
    fn blocking_flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        now(AsyncOutput::blocking_flush(self.0, stream)).unwrap_or_else(|| Err(would_block()))
    }
    fn splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        AsyncOutput::splice(self.0, dst, src, len)
    }
    fn blocking_splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        now(AsyncOutput::blocking_splice(self.0, dst, src, len))
            .unwrap_or_else(|| Err(would_block()))
    }
}

impl streams::HostInputStream for NonBlockingTable<'_> {
    fn drop(&mut self, stream: Resource<DynInputStream>) -> wasmtime::Result<()> {
        now(AsyncInput::drop(self.0, stream)).unwrap_or(Ok(()))
    }
    fn read(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        AsyncInput::read(self.0, stream, len)
    }
    fn blocking_read(
        &mut self,
        stream: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<Vec<u8>> {
        now(AsyncInput::blocking_read(self.0, stream, len)).unwrap_or_else(|| Err(would_block()))
    }
    fn skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        AsyncInput::skip(self.0, stream, len)
    }
    fn blocking_skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        now(AsyncInput::blocking_skip(self.0, stream, len)).unwrap_or_else(|| Err(would_block()))
    }
    fn subscribe(
        &mut self,
        stream: Resource<DynInputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        AsyncInput::subscribe(self.0, stream)
    }
}

impl poll::Host for NonBlockingTable<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        now(async_poll::Host::poll(self.0, pollables))
            .unwrap_or_else(|| Err(wasmtime::Error::msg(WOULD_BLOCK)))
    }
}

impl poll::HostPollable for NonBlockingTable<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        now(async_poll::HostPollable::ready(self.0, pollable)).unwrap_or(Ok(false))
    }
    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        now(async_poll::HostPollable::block(self.0, pollable))
            .unwrap_or_else(|| Err(wasmtime::Error::msg(WOULD_BLOCK)))
    }
    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        async_poll::HostPollable::drop(self.0, pollable)
    }
}

/// Replaces the `wasi:io/streams` and `wasi:io/poll` functions that
/// `wasmtime_wasi::p2::add_to_linker_sync` defined with the non-blocking ones above.
pub(crate) fn shadow_blocking_io<T: 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    table: fn(&mut T) -> NonBlockingTable<'_>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    streams::add_to_linker::<T, NonBlockingIo>(linker, table)?;
    poll::add_to_linker::<T, NonBlockingIo>(linker, table)?;
    linker.allow_shadowing(false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_most_recent_bytes() {
        let t = StderrTail::default();
        t.push(&vec![b'a'; STDERR_TAIL_BYTES]);
        t.push(b"xyz");
        let c = t.contents();
        assert_eq!(c.len(), STDERR_TAIL_BYTES);
        assert!(c.ends_with("axyz"));
        t.push(&vec![b'b'; STDERR_TAIL_BYTES * 2]);
        assert_eq!(t.contents(), "b".repeat(STDERR_TAIL_BYTES));
        t.clear();
        assert_eq!(t.contents(), "");
    }

    #[test]
    fn panic_summary_finds_location_and_message() {
        let err = "thread '<unnamed>' panicked at src/lib.rs:10:5:\nboom on purpose\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            panic_summary(err).as_deref(),
            Some("panicked at src/lib.rs:10:5: boom on purpose")
        );
        assert_eq!(
            panic_summary("memory allocation of 1048576 bytes failed\n").as_deref(),
            Some("memory allocation of 1048576 bytes failed")
        );
        assert_eq!(panic_summary("nothing useful"), None);
    }
}
