//! A minimal HTTP/1.1 keep-alive client for the benchmark: one TCP connection, one request at a
//! time; `Content-Length` bodies (what the API answers for JSON), and chunked bodies streamed to a
//! callback (what the CSV export answers) without ever holding the whole body.
//!
//! Why not a general client: the benchmark shares the machine's two cores with the server it
//! measures, and a full-featured client (connection pool, header maps, body streams, redirect and
//! decompression layers) cost as much CPU per request as the server's own work, halving the figure
//! for reasons that have nothing to do with Rebound. This does the least a client can: write the
//! request bytes, read the status line and the body.

use std::ops::ControlFlow;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One keep-alive connection to the server.
pub struct HttpConn {
    stream: TcpStream,
    host: String,
    token: String,
    /// A console session cookie sent with every request instead of the bearer token.
    cookie: Option<String>,
    buf: Vec<u8>,
}

/// A response: status code and body bytes.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// The secret of a `Set-Cookie: rebound_session=…` (a sign-in's answer).
    pub session_cookie: Option<String>,
}

impl Reply {
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).context("response body is not JSON")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl HttpConn {
    pub async fn connect(addr: std::net::SocketAddr, token: &str) -> anyhow::Result<HttpConn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(HttpConn {
            stream,
            host: addr.to_string(),
            token: token.to_string(),
            cookie: None,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// A connection that acts as a signed-in console user: `rebound_session=<secret>` on every
    /// request, no bearer token.
    pub async fn connect_with_session(addr: std::net::SocketAddr, secret: &str) -> anyhow::Result<HttpConn> {
        let mut conn = HttpConn::connect(addr, "").await?;
        conn.cookie = Some(secret.to_string());
        Ok(conn)
    }

    pub async fn get(&mut self, path: &str) -> anyhow::Result<Reply> {
        self.request("GET", path, None).await
    }

    pub async fn post(&mut self, path: &str, body: &[u8]) -> anyhow::Result<Reply> {
        self.request("POST", path, Some(body)).await
    }

    async fn request(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> anyhow::Result<Reply> {
        let mut head = match &self.cookie {
            None => format!(
                "{method} {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\naccept: application/json\r\n",
                self.host, self.token
            ),
            Some(secret) => format!(
                "{method} {path} HTTP/1.1\r\nhost: {}\r\ncookie: rebound_session={secret}\r\naccept: text/html\r\n",
                self.host
            ),
        };
        if let Some(body) = body {
            head.push_str(&format!("content-type: application/json\r\ncontent-length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        self.stream.write_all(head.as_bytes()).await?;
        if let Some(body) = body {
            self.stream.write_all(body).await?;
        }
        self.read_reply().await
    }

    async fn read_reply(&mut self) -> anyhow::Result<Reply> {
        // Read until the end of the headers.
        let header_end = loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                break pos + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..header_end]).context("response head is not UTF-8")?;
        let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).context("no status code")?;
        let mut length: Option<usize> = None;
        let mut session_cookie = None;
        for line in head.split("\r\n").skip(1) {
            let Some((name, value)) = line.split_once(':') else { continue };
            if name.eq_ignore_ascii_case("set-cookie") {
                session_cookie =
                    value.trim().strip_prefix("rebound_session=").and_then(|v| v.split(';').next()).map(str::to_string);
            } else if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                bail!("chunked responses are not supported by the benchmark client");
            }
        }
        let length = length.unwrap_or(0);
        while self.buf.len() < header_end + length {
            self.fill().await?;
        }
        let body = self.buf[header_end..header_end + length].to_vec();
        self.buf.drain(..header_end + length);
        Ok(Reply { status, body, session_cookie })
    }

    /// GET a chunked (streamed) body, handing each piece of body data to `on_data` as it arrives,
    /// until the body ends or `on_data` answers `Break` (an endless stream such as SSE: the
    /// connection is then left mid-body and must be dropped).
    pub async fn get_streamed(
        &mut self,
        path: &str,
        mut on_data: impl FnMut(&[u8]) -> ControlFlow<()>,
    ) -> anyhow::Result<u16> {
        let head =
            format!("GET {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\n\r\n", self.host, self.token);
        self.stream.write_all(head.as_bytes()).await?;
        let header_end = loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                break pos + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..header_end]).context("response head is not UTF-8")?;
        let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).context("no status code")?;
        if !head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            bail!("expected a chunked response, got: {head}");
        }
        self.buf.drain(..header_end);
        loop {
            // Chunk size line.
            let line_end = loop {
                if let Some(pos) = find(&self.buf, b"\r\n") {
                    break pos;
                }
                self.fill().await?;
            };
            let size_text = std::str::from_utf8(&self.buf[..line_end])?.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16).with_context(|| format!("bad chunk size '{size_text}'"))?;
            self.buf.drain(..line_end + 2);
            if size == 0 {
                // Trailer section: ends with an empty line.
                while find(&self.buf, b"\r\n").is_none() {
                    self.fill().await?;
                }
                let end = find(&self.buf, b"\r\n").unwrap_or(0);
                self.buf.drain(..end + 2);
                return Ok(status);
            }
            let mut left = size;
            while left > 0 {
                if self.buf.is_empty() {
                    self.fill().await?;
                }
                let take = left.min(self.buf.len());
                let flow = on_data(&self.buf[..take]);
                self.buf.drain(..take);
                left -= take;
                if flow.is_break() {
                    return Ok(status);
                }
            }
            while self.buf.len() < 2 {
                self.fill().await?;
            }
            self.buf.drain(..2);
        }
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        // Reads into spare capacity: no zeroing of a fresh 64 KiB on every read.
        self.buf.reserve(64 * 1024);
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
