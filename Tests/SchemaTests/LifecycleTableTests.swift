import ApplicationLifecycle
import Domain
import Testing

/// The one transition table against DESIGN.md "Application lifecycle".
@Suite struct LifecycleTableTests {
    typealias Edge = (from: ApplicationStatus, to: ApplicationStatus)

    static func edges() -> Set<String> {
        var edges: Set<String> = []
        for transition in Transition.allCases {
            for source in transition.sources {
                for target in transition.targets { edges.insert("\(source.rawValue)→\(target.rawValue)") }
            }
        }
        return edges
    }

    @Test func theTableHasExactlyTheDesignsEdges() {
        let open: [ApplicationStatus] = [.received, .assigned, .inProgress, .awaitingApplicant, .unroutable]
        var expected: Set<String> = [
            "received→assigned", "received→unroutable",                      // routing
            "assigned→in_progress",                                          // claim
            "in_progress→assigned",                                          // release
            "in_progress→awaiting_applicant", "awaiting_applicant→in_progress", // question, reply or resume
            "in_progress→completed", "awaiting_applicant→completed",
        ]
        for status in open { expected.insert("\(status.rawValue)→assigned") }   // forward, received and unroutable included
        for status in open { expected.insert("\(status.rawValue)→withdrawn") }
        #expect(Self.edges() == expected)
        // Closed states have no way out.
        for transition in Transition.allCases {
            #expect(!transition.sources.contains(.completed) && !transition.sources.contains(.withdrawn))
        }
    }

    @Test func statusMessagesFollowTheBundIDStatus() {
        #expect(Transition.sendsStatusMessage(from: .received, to: .assigned), "routing's receipt")
        #expect(Transition.sendsStatusMessage(from: .received, to: .unroutable))
        #expect(Transition.sendsStatusMessage(from: .received, to: .withdrawn))
        #expect(Transition.sendsStatusMessage(from: .assigned, to: .inProgress))
        #expect(!Transition.sendsStatusMessage(from: .assigned, to: .assigned), "a forward keeps RECEIVED")
        #expect(!Transition.sendsStatusMessage(from: .unroutable, to: .assigned))
        #expect(Transition.sendsStatusMessage(from: .inProgress, to: .assigned), "release: PROCESSING → RECEIVED")
        #expect(Transition.sendsStatusMessage(from: .awaitingApplicant, to: .completed))
    }

    @Test func aCaseworkersStatusChangeMapsToItsTransition() {
        #expect(Transition.statusChange(to: .awaitingApplicant) == .ask)
        #expect(Transition.statusChange(to: .inProgress) == .resume)
        #expect(Transition.statusChange(to: .completed) == .complete)
        #expect(Transition.statusChange(to: .assigned) == nil)
        #expect(Transition.statusChange(to: .withdrawn) == nil)
    }
}
