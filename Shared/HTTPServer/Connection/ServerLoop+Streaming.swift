import Synchronization

/// Streamed response bodies. Runs in the responder's task, not on the loop thread: pieces go to
/// the loop as messages, and each waits until the loop has written enough (backpressure).
extension ServerLoop {
    func sendStreamed(_ response: HTTPResponse, _ stream: HTTPBodyStream, framing: ResponseSerializer.Framing, token: UInt64) async {
        var framing = framing
        let bodyLength: ResponseSerializer.BodyLength
        if let length = stream.contentLength {
            bodyLength = .length(length)
        } else if framing.requestVersion == .http1_1 {
            bodyLength = .chunked
        } else {
            bodyLength = .untilClose
            framing.keepAlive = false
        }
        let head = ResponseSerializer.serializeHead(response, framing, bodyLength: bodyLength)
        if framing.isHeadRequest {
            post(.response(token: token, bytes: head, keepAlive: framing.keepAlive))
            return
        }
        guard await sendPiece(head, token: token) else {
            post(.streamAborted(token: token))
            return
        }

        let written = StreamedByteCount()
        let chunked = if case .chunked = bodyLength { true } else { false }
        let writer = HTTPBodyWriter { [self] bytes in
            let total = written.add(bytes.count)
            if let length = stream.contentLength, total > length { return false }
            return await sendPiece(chunked ? ResponseSerializer.chunk(bytes) : bytes, token: token)
        }
        do {
            try await stream.produce(writer)
            if let length = stream.contentLength, written.value != length {
                logger.error("streamed body length differs from its Content-Length; connection cut", [
                    "request_id": framing.requestID, "declared": String(length), "written": String(written.value),
                ])
                post(.streamAborted(token: token))
                return
            }
            post(.streamEnded(token: token, bytes: chunked ? ResponseSerializer.lastChunk : [], keepAlive: framing.keepAlive))
        } catch {
            if !(error is HTTPBodyWriter.ConnectionClosed) {
                logger.error("streamed body failed; connection cut", ["request_id": framing.requestID, "error": String(describing: error)])
            }
            post(.streamAborted(token: token))
        }
    }

    /// Hands bytes to the loop; true once they are queued and the backlog is small enough.
    private func sendPiece(_ bytes: [UInt8], token: UInt64) async -> Bool {
        await withCheckedContinuation { continuation in
            if !post(.streamPiece(token: token, bytes: bytes, accepted: continuation)) {
                continuation.resume(returning: false)
            }
        }
    }
}

/// Bytes written so far by one stream's producer.
private final class StreamedByteCount: Sendable {
    private let count = Mutex(0)
    func add(_ amount: Int) -> Int { count.withLock { $0 += amount; return $0 } }
    var value: Int { count.withLock { $0 } }
}
