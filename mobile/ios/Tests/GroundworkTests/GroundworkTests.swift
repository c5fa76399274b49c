// XCTest tests mirroring the Kotlin ones (mobile/android/src/test). They need a relay binary:
// set GROUNDWORK_RELAY to the path of a built groundwork-relay (cargo build -p groundwork-relay)
// before `swift test` on a Mac. Not run in this project's CI (no Swift toolchain there).
import Foundation
import XCTest
@testable import Groundwork

/// A real groundwork-relay process on a free port of 127.0.0.1.
final class TestRelay {
    let process = Process()
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
    let url: String

    init() throws {
        guard let binary = ProcessInfo.processInfo.environment["GROUNDWORK_RELAY"] else {
            throw XCTSkip("set GROUNDWORK_RELAY to a groundwork-relay binary")
        }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let out = Pipe()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--listen", "127.0.0.1:0", "--data", dir.path]
        process.standardOutput = out
        try process.run()
        // The relay's first line says where it listens.
        var line = Data()
        while let byte = try out.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) {
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("listening on ") else { throw NSError(domain: "relay: \(text)", code: 1) }
        url = "ws://\(text.dropFirst("listening on ".count))/v1/sync"
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: dir)
    }
}

func tempDir() -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.path
}

final class GroupSyncTests: XCTestCase {
    let hour: Int64 = 3_600_000

    func testEditsMadeApartReachTheLeadWhoSeesThemAsStreams() async throws {
        let relay = try TestRelay()
        let lead = try await GroundworkStore.create(dir: tempDir(), name: "lead phone", key: try generateStoreKey())
        let member = try await GroundworkStore.create(dir: tempDir(), name: "member phone", key: try generateStoreKey())
        let canvasser = try await GroundworkStore.create(dir: tempDir(), name: "canvasser phone", key: try generateStoreKey())

        let group = try await lead.createGroup(name: "Riverside Freedom City", jurisdiction: "Riverside County")
        let meeting = try await lead.createMeeting(groupId: group, meeting: NewMeeting(kind: .organizing, title: "Kickoff"))
        let first = try await lead.syncOnce(relay: relay.url, timeoutMs: 20_000)
        XCTAssertTrue(first.synced)

        let memberInvite = try await lead.createInvite(groupId: group, role: .member, uses: 1, validForMs: hour)
        let canvasserInvite = try await lead.createInvite(groupId: group, role: .canvasser, uses: 1, validForMs: hour)
        let joinedMember = try await member.join(code: memberInvite.code, relay: relay.url)
        XCTAssertEqual(joinedMember.role, .member)
        // The link alone: it carries the relay, signed with the rest of the invite.
        XCTAssertEqual(canvasserInvite.relay, relay.url)
        XCTAssertEqual(canvasserInvite.link, "groundwork://join?invite=\(canvasserInvite.code)")
        XCTAssertEqual(canvasserInvite.webLink?.hasSuffix("/join#\(canvasserInvite.code)"), true)
        let joinedCanvasser = try await canvasser.join(code: canvasserInvite.link)
        XCTAssertEqual(joinedCanvasser.role, .canvasser)
        let remembered = try await canvasser.relay()
        XCTAssertEqual(remembered, relay.url)

        let changes = lead.changes()
        _ = try await member.addAgendaItem(meetingId: meeting, text: "Ask the sheriff about R1 (judicial warrants)")
        _ = try await canvasser.logContact(groupId: group, contact: NewContact(result: .notHome))
        _ = try await canvasser.logContact(groupId: group, contact: NewContact(result: .talked, support: 4, interests: [.attend]))
        do {
            _ = try await canvasser.addAgendaItem(meetingId: meeting, text: "not mine to add")
            XCTFail("a canvasser edited the plan")
        } catch GroundworkError.NotAllowed(let message) {
            XCTAssertTrue(message.contains("canvasser"))
        }

        let memberSync = try await member.syncOnce(relay: relay.url, timeoutMs: 20_000)
        XCTAssertTrue(memberSync.synced)
        let canvasserSync = try await canvasser.syncOnce(relay: nil, timeoutMs: 20_000)
        XCTAssertTrue(canvasserSync.synced)

        try lead.startSync(relay: relay.url)
        var sawPlan = false
        for await change in changes {
            if change.kind == .plan && change.origin == .relay { sawPlan = true }
            if change.kind == .contacts && change.origin == .relay { break }
        }
        XCTAssertTrue(sawPlan)
        for await status in lead.syncStatus() where status.synced && status.state == .connected {
            break
        }
        let agenda = try await lead.meeting(meetingId: meeting).agenda.map(\.text)
        XCTAssertEqual(agenda, ["Ask the sheriff about R1 (judicial warrants)"])
        let count = try await lead.contactCount(groupId: group)
        XCTAssertEqual(count, 2)
        try await lead.stopSync()
    }

    func testBadInputIsATypedErrorAndLosesNothing() async throws {
        let dir = tempDir()
        let key = try generateStoreKey()
        let store = try await GroundworkStore.create(dir: dir, name: "phone", key: key)
        let group = try await store.createGroup(name: "Eastside", jurisdiction: nil)
        _ = try await store.logContact(groupId: group, contact: NewContact(result: .talked, note: "kept"))
        do {
            _ = try await store.logContact(groupId: group, contact: NewContact(result: .talked, name: "A. Person"))
            XCTFail("personal details were saved without consent")
        } catch GroundworkError.ConsentRequired {}
        do {
            _ = try await GroundworkStore.open(dir: dir, key: Data(count: 5))
            XCTFail("a 5-byte key was accepted")
        } catch GroundworkError.InvalidInput(let message) {
            XCTAssertTrue(message.contains("32 bytes"))
        }
        let count = try await store.contactCount(groupId: group)
        XCTAssertEqual(count, 1)
    }

    func testClosingAStreamEndsItsNativeSubscription() async throws {
        let store = try await GroundworkStore.create(dir: tempDir(), name: "phone", key: try generateStoreKey())
        let group = try await store.createGroup(name: "Northside", jurisdiction: nil)
        let task = Task { () -> ChangeEvent? in
            for await change in store.changes() { return change }
            return nil
        }
        while store.liveSubscriptions() == 0 { await Task.yield() }
        _ = try await store.logContact(groupId: group, contact: NewContact(result: .moved))
        let event = await task.value
        XCTAssertEqual(event?.groupId, group)
        // Leaving the loop ended the stream, which cancelled the subscription.
        while store.liveSubscriptions() != 0 { await Task.yield() }
    }
}
