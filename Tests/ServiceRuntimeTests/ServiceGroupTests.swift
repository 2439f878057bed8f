import Foundation
import HTTPTestSupport
import Logging
import ServiceRuntime
import Synchronization
import Testing

final class StopFlag: Sendable {
    let value = Mutex(false)
}

struct FailingService: Service {
    let name = "failing"
    struct Failure: Error {}
    func run(shutdown: ShutdownSignal) async throws {
        try await Task.sleep(for: .milliseconds(50))
        throw Failure()
    }
}

struct FlaggingService: Service {
    let name: String
    let flag: StopFlag
    let stopTime: Duration
    func run(shutdown: ShutdownSignal) async throws {
        await shutdown.wait()
        try await Task.sleep(for: stopTime)
        flag.value.withLock { $0 = true }
    }
}

@Suite struct ServiceGroupTests {
    let logger = Logger(service: "group-test", sink: MemoryLogSink())

    @Test func aSignalStopsEveryServiceGracefully() async throws {
        let first = StopFlag(), second = StopFlag()
        let group = ServiceGroup(services: [
            FlaggingService(name: "a", flag: first, stopTime: .milliseconds(50)),
            FlaggingService(name: "b", flag: second, stopTime: .milliseconds(100)),
        ], logger: logger, gracePeriod: .seconds(5), signals: [SIGUSR2])
        async let run: Void = group.run()
        try await Task.sleep(for: .milliseconds(100))
        kill(getpid(), SIGUSR2)
        try await run
        #expect(first.value.withLock { $0 })
        #expect(second.value.withLock { $0 })
    }

    @Test func aFailingServiceStopsTheOthersAndTheGroupThrows() async throws {
        let survivor = StopFlag()
        let group = ServiceGroup(services: [
            FailingService(), FlaggingService(name: "other", flag: survivor, stopTime: .milliseconds(10)),
        ], logger: logger, gracePeriod: .seconds(5), signals: [])
        await #expect(throws: FailingService.Failure.self) { try await group.run() }
        #expect(survivor.value.withLock { $0 })
    }

    @Test func servicesOutlastingTheGracePeriodAreCancelled() async throws {
        let slow = StopFlag()
        let group = ServiceGroup(services: [
            FailingService(), FlaggingService(name: "slow", flag: slow, stopTime: .seconds(30)),
        ], logger: logger, gracePeriod: .milliseconds(200), signals: [])
        let started = ContinuousClock.now
        await #expect(throws: (any Error).self) { try await group.run() }
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(!slow.value.withLock { $0 })
    }
}

@Suite struct ServiceGroupSecondSignalTests {
    @Test func aSecondSignalCancelsWithoutWaitingForTheGracePeriod() async throws {
        let slow = StopFlag()
        let group = ServiceGroup(services: [FlaggingService(name: "slow", flag: slow, stopTime: .seconds(30))],
                                 logger: Logger(service: "group-test", sink: MemoryLogSink()),
                                 gracePeriod: .seconds(30), signals: [SIGUSR1])
        async let run: Void = group.run()
        try await Task.sleep(for: .milliseconds(100))
        kill(getpid(), SIGUSR1)
        try await Task.sleep(for: .milliseconds(100))
        let secondSignal = ContinuousClock.now
        kill(getpid(), SIGUSR1)
        try await run
        #expect(ContinuousClock.now - secondSignal < .seconds(2))
        #expect(!slow.value.withLock { $0 })
    }
}
