import Foundation
import Testing
import TusTestSupport

@Suite struct FakeTimeTests {
    @Test func dateUnderAClockTwoDaysAheadPrintsATimeTwoDaysAhead() throws {
        let before = Date().timeIntervalSince1970
        let result = try FakeTime.days(2).run("/bin/date", ["+%s"])
        let after = Date().timeIntervalSince1970
        #expect(result.status == 0, "\(result.stderr)")
        let seconds = try #require(TimeInterval(result.output), "date printed \(result.stdout)")
        let twoDays: TimeInterval = 2 * 86_400
        // date prints whole seconds: one of slack below.
        #expect(seconds >= before + twoDays - 1 && seconds <= after + twoDays + 1,
                "date said \(seconds), the real clock \(before)…\(after)")
    }

    @Test func aClockBehindWorksToo() throws {
        let before = Date().timeIntervalSince1970
        let result = try FakeTime(offset: "-3h").run("/bin/date", ["+%s"])
        let seconds = try #require(TimeInterval(result.output), "date printed \(result.stdout)")
        #expect(abs(seconds - (before - 3 * 3600)) < 60, "date said \(seconds), the real clock \(before)")
    }

    /// The `tus` tool reads the moved clock too: `tus store set` writes the
    /// time it stored the URL, and a run with the real clock lists it as
    /// two days ahead.
    @Test func theTusToolReadsTheMovedClock() throws {
        let folder = try TemporaryFolder()
        let spec = "json:" + folder.newPath("store.json")
        let set = try FakeTime.days(2).runTus(["store", "set", "k", "http://127.0.0.1:9/files/1", "--store", spec])
        #expect(set.status == 0, "\(set.stderr)")
        let listed = try runTus(["store", "list", "--json", "--store", spec])
        #expect(listed.status == 0, "\(listed.stderr)")
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        let storedAt = try #require(entries.first?["stored_at"] as? String, "\(listed.stdout)")
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let date = try #require(formatter.date(from: storedAt))
        let ahead = date.timeIntervalSinceNow
        #expect(ahead > 2 * 86_400 - 600 && ahead <= 2 * 86_400 + 1, "stored \(ahead) s from now")
    }

    @Test func aMissingProgramIsNamed() {
        #expect(throws: TestError.self) {
            try FakeTime.days(2).run("/nonexistent/program", [])
        }
    }
}
