//! A scripted OpenAI-compatible HTTP/1.1 server for the CLI tests.
//!
//! Hand-written on a tokio `TcpListener` rather than a web framework, because
//! the tests need byte-level control: streams that stop mid-answer without the
//! chunked terminator, bodies that are not JSON, answers that never come.
//!
//! Every request is parsed (request line, headers, `Content-Length` body),
//! recorded in a log with the instant it was fully received, and answered by a
//! behaviour closure `Fn(&Request, attempt) -> Reply`, where `attempt` counts
//! requests for the same prompt (1 for the first). Every response carries
//! `Connection: close`, and the connection is closed after it.
//!
//! Streamed answers (requests with `"stream": true`) use chunked transfer
//! encoding, so that a connection dropped mid-stream is a transport error for
//! the client rather than an ordinary end of body.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `POST`, ...
    pub method: String,
    /// The request target, e.g. `/v1/chat/completions`.
    pub path: String,
    /// Headers with lowercased names, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub raw_body: String,
    /// The body parsed as JSON (`Value::Null` when it is not JSON).
    pub body: Value,
    /// When the whole request had arrived.
    pub received_at: Instant,
}

impl Request {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// What the model is asked: the last user message of a chat request, or
    /// the `prompt` of a completion request.
    pub fn prompt(&self) -> String {
        if let Some(messages) = self.body.get("messages").and_then(Value::as_array) {
            return messages
                .iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
                .and_then(|m| m.get("content"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
        }
        self.body.get("prompt").and_then(Value::as_str).unwrap_or_default().to_owned()
    }

    /// Whether the client asked for a streamed answer (`"stream": true`;
    /// absent means not streamed, as in the OpenAI API).
    pub fn streaming(&self) -> bool {
        self.body.get("stream").and_then(Value::as_bool).unwrap_or(false)
    }

    /// Whether the client asked for a usage chunk at the end of a stream.
    pub fn wants_stream_usage(&self) -> bool {
        self.body.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false)
    }

    /// A completion (plain text) request rather than a chat request.
    pub fn is_completion(&self) -> bool {
        self.path.ends_with("/completions") && !self.path.ends_with("/chat/completions")
    }

    fn model(&self) -> String {
        self.body.get("model").and_then(Value::as_str).unwrap_or("unknown").to_owned()
    }
}

/// A normal answer and how to deliver it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The generated text.
    pub text: String,
    /// `usage.prompt_tokens`.
    pub prompt_tokens: u64,
    /// `usage.completion_tokens`.
    pub completion_tokens: u64,
    /// `usage.prompt_tokens_details.cached_tokens`, when set.
    pub cached_tokens: Option<u64>,
    /// Wait before the first text (streamed) or before the whole response (not streamed).
    pub first_delay: Duration,
    /// Wait between consecutive text chunks (streamed only).
    pub chunk_delay: Duration,
    /// Into how many content deltas the text is split (streamed only).
    pub pieces: usize,
    /// `finish_reason` of the last chunk / the choice.
    pub finish_reason: String,
}

impl Answer {
    /// An answer with default token counts (words of the answer, 10 prompt tokens),
    /// no delays, split into 3 deltas.
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let words = text.split_whitespace().count().max(1) as u64;
        Answer {
            text,
            prompt_tokens: 10,
            completion_tokens: words,
            cached_tokens: None,
            first_delay: Duration::ZERO,
            chunk_delay: Duration::ZERO,
            pieces: 3,
            finish_reason: "stop".to_owned(),
        }
    }

    /// Set the token counts.
    pub fn usage(mut self, prompt_tokens: u64, completion_tokens: u64) -> Self {
        self.prompt_tokens = prompt_tokens;
        self.completion_tokens = completion_tokens;
        self
    }

    /// Report this many cached prompt tokens.
    pub fn cached(mut self, cached_tokens: u64) -> Self {
        self.cached_tokens = Some(cached_tokens);
        self
    }

    /// Wait this long before the first text.
    pub fn first_delay(mut self, delay: Duration) -> Self {
        self.first_delay = delay;
        self
    }

    /// Wait this long between text chunks.
    pub fn chunk_delay(mut self, delay: Duration) -> Self {
        self.chunk_delay = delay;
        self
    }

    /// Split the text into this many deltas.
    pub fn pieces(mut self, pieces: usize) -> Self {
        self.pieces = pieces.max(1);
        self
    }

    fn usage_json(&self) -> Value {
        let mut usage = json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        });
        if let Some(cached) = self.cached_tokens {
            usage["prompt_tokens_details"] = json!({ "cached_tokens": cached });
        }
        usage
    }

    /// The text cut into `pieces` non-empty parts (fewer only when the text
    /// has fewer characters), on char boundaries.
    fn split(&self) -> Vec<String> {
        let chars: Vec<char> = self.text.chars().collect();
        let pieces = self.pieces.min(chars.len());
        (0..pieces).map(|k| chars[k * chars.len() / pieces..(k + 1) * chars.len() / pieces].iter().collect()).collect()
    }
}

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Answer normally: SSE when the request streams, one JSON body otherwise.
    Answer(Answer),
    /// An HTTP status with this body (JSON or not) and extra headers.
    Status {
        /// Status code.
        code: u16,
        /// Body text.
        body: String,
        /// Extra headers.
        headers: Vec<(String, String)>,
    },
    /// `200 OK` whose body is not valid JSON (a garbled SSE event when streaming).
    InvalidJson,
    /// Start answering, send this many content chunks, then close the connection
    /// without finishing the response.
    DropMidStream {
        /// Content chunks sent before the drop.
        chunks: usize,
    },
    /// Say nothing for this long, then close the connection.
    Stall(Duration),
}

impl Reply {
    /// A normal answer with default settings.
    pub fn answer(text: impl Into<String>) -> Reply {
        Reply::Answer(Answer::new(text))
    }

    /// An HTTP error with an OpenAI-style JSON error body.
    pub fn status(code: u16, message: &str) -> Reply {
        Reply::Status {
            code,
            body: json!({ "error": { "message": message, "type": "server_error" } }).to_string(),
            headers: Vec::new(),
        }
    }

    /// `429 Too Many Requests` with `Retry-After: <seconds>`.
    pub fn rate_limited(retry_after_seconds: u64) -> Reply {
        Reply::Status {
            code: 429,
            body: json!({ "error": { "message": "slow down", "type": "rate_limit_exceeded" } }).to_string(),
            headers: vec![("Retry-After".to_owned(), retry_after_seconds.to_string())],
        }
    }
}

impl From<Answer> for Reply {
    fn from(answer: Answer) -> Reply {
        Reply::Answer(answer)
    }
}

/// A deterministic answer table: prompt → answer.
#[derive(Debug, Clone, Default)]
pub struct AnswerTable(Vec<(String, String)>);

impl AnswerTable {
    /// From (key, answer) pairs.
    pub fn new(pairs: &[(&str, &str)]) -> Self {
        AnswerTable(pairs.iter().map(|(k, a)| ((*k).to_owned(), (*a).to_owned())).collect())
    }

    /// The answer for a prompt: the entry whose key equals the trimmed prompt,
    /// else the first entry whose key the prompt contains, else "I don't know".
    pub fn lookup(&self, prompt: &str) -> String {
        let prompt = prompt.trim();
        self.0
            .iter()
            .find(|(key, _)| key == prompt)
            .or_else(|| self.0.iter().find(|(key, _)| prompt.contains(key.as_str())))
            .map_or_else(|| "I don't know".to_owned(), |(_, answer)| answer.clone())
    }

    /// The default behaviour: answer every request from the table.
    pub fn reply(&self, request: &Request) -> Reply {
        Reply::answer(self.lookup(&request.prompt()))
    }
}

type Behaviour = dyn Fn(&Request, usize) -> Reply + Send + Sync;

struct State {
    behaviour: Box<Behaviour>,
    log: Mutex<Vec<Request>>,
    attempts: Mutex<HashMap<String, usize>>,
}

/// A running server; stops when dropped.
pub struct Server {
    addr: std::net::SocketAddr,
    state: Arc<State>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Server {
    /// Start a server whose replies come from `behaviour(request, attempt)`,
    /// where `attempt` is 1 for the first request with this prompt, 2 for the
    /// second, and so on.
    pub fn start(behaviour: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fake-openai")
            .enable_all()
            .build()
            .expect("start the test server's runtime");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let addr = listener.local_addr().expect("listener address");
        let state = Arc::new(State {
            behaviour: Box::new(behaviour),
            log: Mutex::new(Vec::new()),
            attempts: Mutex::new(HashMap::new()),
        });
        let accept_state = Arc::clone(&state);
        runtime.spawn(async move {
            let listener = TcpListener::from_std(listener).expect("tokio listener");
            loop {
                let Ok((socket, _)) = listener.accept().await else { continue };
                let state = Arc::clone(&accept_state);
                tokio::spawn(async move {
                    let _ = serve(socket, state).await;
                });
            }
        });
        Server { addr, state, runtime: Some(runtime) }
    }

    /// A server that answers every request from `table`.
    pub fn answering(table: &[(&str, &str)]) -> Server {
        let table = AnswerTable::new(table);
        Server::start(move |request, _| table.reply(request))
    }

    /// `http://127.0.0.1:<port>/v1`, for a suite's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.log.lock().unwrap().clone()
    }

    /// How many requests were received.
    pub fn request_count(&self) -> usize {
        self.state.log.lock().unwrap().len()
    }

    /// The requests whose prompt contains `needle`.
    pub fn requests_for(&self, needle: &str) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.prompt().contains(needle)).collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Read one request, log it, reply, close.
async fn serve(mut socket: TcpStream, state: Arc<State>) -> std::io::Result<()> {
    socket.set_nodelay(true)?;
    let Some(request) = read_request(&mut socket).await? else { return Ok(()) };
    let reply = {
        let mut log = state.log.lock().unwrap();
        let mut attempts = state.attempts.lock().unwrap();
        let attempt = attempts.entry(request.prompt()).or_insert(0);
        *attempt += 1;
        let attempt = *attempt;
        log.push(request.clone());
        drop(log);
        drop(attempts);
        (state.behaviour)(&request, attempt)
    };
    respond(&mut socket, &request, reply).await?;
    let _ = socket.shutdown().await;
    Ok(())
}

/// `None` when the peer closed before a whole request arrived.
async fn read_request(socket: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = find(&buffer, b"\r\n\r\n") {
            break at;
        }
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(0);
    let body_start = head_end + 4;
    while buffer.len() < body_start + length {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let raw_body = String::from_utf8_lossy(&buffer[body_start..body_start + length]).into_owned();
    let body = serde_json::from_str(&raw_body).unwrap_or(Value::Null);
    Ok(Some(Request { method, path, headers, raw_body, body, received_at: Instant::now() }))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

async fn respond(socket: &mut TcpStream, request: &Request, reply: Reply) -> std::io::Result<()> {
    match reply {
        Reply::Answer(answer) => {
            if request.streaming() {
                stream_answer(socket, request, &answer).await
            } else {
                tokio::time::sleep(answer.first_delay).await;
                let body = completion_body(request, &answer);
                write_whole(socket, 200, "application/json", &body.to_string(), &[]).await
            }
        }
        Reply::Status { code, body, headers } => write_whole(socket, code, "application/json", &body, &headers).await,
        Reply::InvalidJson => {
            if request.streaming() {
                start_stream(socket).await?;
                send_event(socket, &role_chunk(request)).await?;
                // A data line cut off inside a string: not JSON.
                write_chunk(socket, b"data: {\"choices\": [{\"index\": 0, \"delta\": {\"content\": \"Par\n\n").await?;
                write_chunk(socket, b"data: [DONE]\n\n").await?;
                write_chunk(socket, b"").await
            } else {
                write_whole(
                    socket,
                    200,
                    "application/json",
                    "{\"id\": \"x\", \"choices\": [{\"message\": {\"content\": \"Par",
                    &[],
                )
                .await
            }
        }
        Reply::DropMidStream { chunks } => {
            if request.streaming() {
                start_stream(socket).await?;
                send_event(socket, &role_chunk(request)).await?;
                for i in 0..chunks {
                    send_event(socket, &text_chunk(request, &format!("piece{i} "))).await?;
                }
            } else {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\nConnection: close\r\n\r\n";
                socket.write_all(head.as_bytes()).await?;
                socket.write_all(b"{\"id\": \"x\", \"choices\": [").await?;
                socket.flush().await?;
            }
            // Dropping the socket without the chunked terminator (or the
            // promised body length) is the fault being simulated.
            Ok(())
        }
        Reply::Stall(duration) => {
            tokio::time::sleep(duration).await;
            Ok(())
        }
    }
}

async fn write_whole(
    socket: &mut TcpStream,
    code: u16,
    content_type: &str,
    body: &str,
    headers: &[(String, String)],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason(code),
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body.as_bytes()).await?;
    socket.flush().await
}

async fn start_stream(socket: &mut TcpStream) -> std::io::Result<()> {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    socket.write_all(head.as_bytes()).await?;
    socket.flush().await
}

/// One HTTP chunk (an empty one ends the body).
async fn write_chunk(socket: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    let mut bytes = format!("{:x}\r\n", data.len()).into_bytes();
    bytes.extend_from_slice(data);
    bytes.extend_from_slice(b"\r\n");
    socket.write_all(&bytes).await?;
    socket.flush().await
}

async fn send_event(socket: &mut TcpStream, payload: &Value) -> std::io::Result<()> {
    write_chunk(socket, format!("data: {payload}\n\n").as_bytes()).await
}

fn role_chunk(request: &Request) -> Value {
    if request.is_completion() {
        return json!({ "id": "cmpl-test", "object": "text_completion", "model": request.model(), "choices": [{ "index": 0, "text": "", "finish_reason": null }] });
    }
    json!({
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "model": request.model(),
        "choices": [{ "index": 0, "delta": { "role": "assistant", "content": "" }, "finish_reason": null }]
    })
}

fn text_chunk(request: &Request, piece: &str) -> Value {
    if request.is_completion() {
        return json!({ "id": "cmpl-test", "object": "text_completion", "model": request.model(), "choices": [{ "index": 0, "text": piece, "finish_reason": null }] });
    }
    json!({
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "model": request.model(),
        "choices": [{ "index": 0, "delta": { "content": piece }, "finish_reason": null }]
    })
}

fn final_chunk(request: &Request, finish_reason: &str) -> Value {
    if request.is_completion() {
        return json!({ "id": "cmpl-test", "object": "text_completion", "model": request.model(), "choices": [{ "index": 0, "text": "", "finish_reason": finish_reason }] });
    }
    json!({
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "model": request.model(),
        "choices": [{ "index": 0, "delta": {}, "finish_reason": finish_reason }]
    })
}

async fn stream_answer(socket: &mut TcpStream, request: &Request, answer: &Answer) -> std::io::Result<()> {
    start_stream(socket).await?;
    send_event(socket, &role_chunk(request)).await?;
    tokio::time::sleep(answer.first_delay).await;
    for (i, piece) in answer.split().iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(answer.chunk_delay).await;
        }
        send_event(socket, &text_chunk(request, piece)).await?;
    }
    send_event(socket, &final_chunk(request, &answer.finish_reason)).await?;
    if request.wants_stream_usage() {
        let usage = json!({ "id": "chatcmpl-test", "object": "chat.completion.chunk", "model": request.model(), "choices": [], "usage": answer.usage_json() });
        send_event(socket, &usage).await?;
    }
    write_chunk(socket, b"data: [DONE]\n\n").await?;
    write_chunk(socket, b"").await
}

fn completion_body(request: &Request, answer: &Answer) -> Value {
    if request.is_completion() {
        return json!({
            "id": "cmpl-test",
            "object": "text_completion",
            "model": request.model(),
            "choices": [{ "index": 0, "text": answer.text, "finish_reason": answer.finish_reason }],
            "usage": answer.usage_json(),
        });
    }
    json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": request.model(),
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": answer.text }, "finish_reason": answer.finish_reason }],
        "usage": answer.usage_json(),
    })
}
