//! The HTTP part of `casebook bench-search`: the real app (`app::build`) on
//! an ephemeral port in this process, and a minimal sequential HTTP/1.1
//! keep-alive client on a blocking socket (one request at a time, so a
//! figure is the latency of one request, not of a queue).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::Latency;

pub struct Client {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
}

pub struct Request<'a> {
    pub method: &'a str,
    pub path: String,
    pub headers: Vec<(&'a str, String)>,
    pub body: String,
    pub expect: u16,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, stream: None }
    }

    fn stream(&mut self) -> io::Result<&mut BufReader<TcpStream>> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr)?;
            stream.set_nodelay(true)?;
            // A stuck server fails the benchmark instead of hanging it.
            stream.set_read_timeout(Some(Duration::from_secs(60)))?;
            self.stream = Some(BufReader::new(stream));
        }
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::other("no connection"))
    }

    /// Sends the request and reads the whole response; returns its status
    /// and body. A keep-alive connection the server has closed meanwhile is
    /// reopened once.
    pub fn send(&mut self, request: &Request<'_>) -> io::Result<(u16, Vec<u8>)> {
        match self.try_send(request) {
            Ok(response) => Ok(response),
            Err(_) => {
                self.stream = None;
                self.try_send(request)
            }
        }
    }

    fn try_send(&mut self, request: &Request<'_>) -> io::Result<(u16, Vec<u8>)> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            request.method,
            request.path,
            self.addr,
            request.body.len()
        );
        for (name, value) in &request.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let stream = self.stream()?;
        let socket = stream.get_mut();
        socket.write_all(head.as_bytes())?;
        socket.write_all(request.body.as_bytes())?;
        let result = read_response(stream);
        if result.as_ref().is_ok_and(|(_, _, close)| *close) {
            self.stream = None;
        }
        result.map(|(status, body, _)| (status, body))
    }
}

fn bad(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Status, body, and whether the server closes the connection.
fn read_response(stream: &mut BufReader<TcpStream>) -> io::Result<(u16, Vec<u8>, bool)> {
    let mut line = String::new();
    if stream.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {line:?}")))?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    loop {
        line.clear();
        stream.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            stream.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad(format!("bad chunk size {line:?}")))?;
            let start = body.len();
            body.resize(start + size, 0);
            stream.read_exact(&mut body[start..])?;
            line.clear();
            stream.read_line(&mut line)?;
            if size == 0 {
                break;
            }
        }
    } else if let Some(length) = length {
        body.resize(length, 0);
        stream.read_exact(&mut body)?;
    } else if status >= 200 && status != 204 && status != 304 {
        stream.read_to_end(&mut body)?;
        close = true;
    }
    Ok((status, body, close))
}

/// Sends `warm` requests unmeasured, then every request once, timing each
/// from the first byte written to the last byte read.
pub fn measure(
    client: &mut Client,
    requests: &[Request<'_>],
    warm: usize,
) -> io::Result<(Latency, u64)> {
    let check = |request: &Request<'_>, (status, body): (u16, Vec<u8>)| {
        if status == request.expect {
            Ok(body.len() as u64)
        } else {
            let text = String::from_utf8_lossy(&body);
            Err(bad(format!(
                "{} {} answered {status}, expected {}: {}",
                request.method,
                request.path.chars().take(80).collect::<String>(),
                request.expect,
                text.chars().take(300).collect::<String>()
            )))
        }
    };
    for request in requests.iter().cycle().take(warm.min(requests.len())) {
        check(request, client.send(request)?)?;
    }
    let mut times = Vec::with_capacity(requests.len());
    let mut bytes = 0;
    for request in requests {
        let started = Instant::now();
        let response = client.send(request)?;
        times.push(started.elapsed());
        bytes += check(request, response)?;
    }
    Ok((Latency::of(&times), bytes / requests.len().max(1) as u64))
}
