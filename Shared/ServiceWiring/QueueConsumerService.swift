import JobQueue
import ServiceRuntime

/// A ``QueueConsumer`` as a service of the process: on shutdown it stops claiming, lets running
/// jobs finish within the consumer's `shutdownDeadline` (or hands them back), then runs
/// `afterStop` (e.g. closing a mail transport). The one consumer service of every executable.
public struct QueueConsumerService: Service {
    public let consumer: QueueConsumer
    private let afterStop: @Sendable () -> Void

    public var name: String { "consumer-" + consumer.configuration.queue.rawValue }

    public init(consumer: QueueConsumer, afterStop: @escaping @Sendable () -> Void = {}) {
        self.consumer = consumer
        self.afterStop = afterStop
    }

    public func run(shutdown: ShutdownSignal) async throws {
        let consumer = consumer
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await consumer.run() }
            group.addTask {
                await shutdown.wait()
                consumer.stop()
            }
            await group.next()
            consumer.stop()
            // The consumer ended on its own: release the task waiting for shutdown. (After a
            // shutdown the consumer is not cancelled: it is finishing its jobs.)
            if !shutdown.isTriggered { group.cancelAll() }
            await group.waitForAll()
        }
        afterStop()
    }
}
