// The Swift face of Groundwork: AsyncStream observers over the generated bindings.
//
// The generated module (GroundworkFFI) already gives `async throws` functions for everything
// that touches the store or the network, records and enums as Swift structs and enums, and
// errors as the `GroundworkError` enum. This adds observers as AsyncStreams whose lifetime owns
// the native subscription, and re-exports the generated API.
@_exported import GroundworkFFI

/// Forwards change events from the SDK's threads into an AsyncStream.
private final class ChangeForwarder: ChangeObserver {
    // A continuation is Sendable: yield may be called from any thread.
    private let continuation: AsyncStream<ChangeEvent>.Continuation
    init(_ continuation: AsyncStream<ChangeEvent>.Continuation) { self.continuation = continuation }
    func onChange(event: ChangeEvent) { continuation.yield(event) }
}

/// Forwards sync status updates from the SDK's threads into an AsyncStream.
private final class StatusForwarder: SyncStatusObserver {
    private let continuation: AsyncStream<SyncStatus>.Continuation
    init(_ continuation: AsyncStream<SyncStatus>.Continuation) { self.continuation = continuation }
    func onStatus(status: SyncStatus) { continuation.yield(status) }
}

public extension GroundworkStore {
    /// Every change to any group's documents, made here or received from the relay, for as long
    /// as the stream is iterated. Ending the iteration (or cancelling its task) cancels the
    /// native subscription. Events are buffered without limit, in order.
    func changes() -> AsyncStream<ChangeEvent> {
        AsyncStream(bufferingPolicy: .unbounded) { continuation in
            do {
                let subscription = try subscribeChanges(observer: ChangeForwarder(continuation))
                continuation.onTermination = { _ in subscription.cancel() }
            } catch {
                continuation.finish()
            }
        }
    }

    /// Where syncing stands: the current status at once, then every change. A slow reader sees
    /// the latest status (intermediate ones may be skipped).
    func syncStatus() -> AsyncStream<SyncStatus> {
        AsyncStream(bufferingPolicy: .bufferingNewest(1)) { continuation in
            do {
                let subscription = try subscribeSyncStatus(observer: StatusForwarder(continuation))
                continuation.onTermination = { _ in subscription.cancel() }
            } catch {
                continuation.finish()
            }
        }
    }
}
