//! httpfault's `Waiter` under `#[tokio::test]` (issue 17, item 7): the default runtime has
//! one thread, so a blocking `wait_for` there would keep the client task from ever running;
//! awaiting `wait_for_async` yields to it, and the server wakes the test when the third
//! request has ended.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(addr: std::net::SocketAddr, path: &str) -> Vec<u8> {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got).await; // a reset ends the first two early
    got
}

#[tokio::test]
async fn a_spawned_client_and_an_awaited_waiter_on_one_thread() {
    let server = httpfault::Server::builder()
        .route("GET /items reset*2 status=200")
        .start()
        .unwrap();
    let addr = server.addr();
    let client = tokio::spawn(async move {
        let mut last = Vec::new();
        for _ in 0..3 {
            last = get(addr, "/items").await; // the retries an SDK would make
        }
        last
    });
    let seen = server.wait_for_async(3, Duration::from_secs(30)).await;
    assert_eq!(seen.len(), 3);
    use httpfault::End::*;
    let ends: Vec<_> = seen.iter().map(|r| r.end).collect();
    assert_eq!(ends, [Some(Reset), Some(Reset), Some(Complete)]);
    assert!(client.await.unwrap().starts_with(b"HTTP/1.1 200 OK"));
}

#[tokio::test]
async fn a_runtime_timeout_around_a_waiter_and_a_shared_server() {
    let server = httpfault::Server::start("status=204").unwrap();
    let shared = server.clone(); // a cheap handle, moved into the task
    let task = tokio::spawn(async move { shared.waiter(1).await.len() });
    let nothing = tokio::time::timeout(Duration::from_millis(50), server.waiter(1)).await;
    assert!(nothing.is_err(), "no request came");
    get(server.addr(), "/").await;
    assert_eq!(task.await.unwrap(), 1);
}
