// What the documentation's code blocks take as given without showing it:
// a file's key, a folder, a token source. scripts/doc-snippets writes each
// block into Generated/ as a file of this target; the names below are the
// context those blocks run in. Nothing here runs.
import Foundation
import TusClient
import TusCore
import TusDevServer

/// A file's fingerprint, as `MD5Fingerprint` gives it.
let key = "size:1048576--md5:9e107d9d372bb6826bd81d3542a419d6"

/// The files a "many files" example uploads.
let paths = ["/data/a.mp4", "/data/b.mp4"]

/// A folder for a development server's uploads.
let tempDir = FileManager.default.temporaryDirectory

/// An open file.
let handle = FileHandle.standardInput

/// A Redis password.
let secret = "s3cret"

/// An upload's URL, on a development server in a test.
let location = URL(string: "http://127.0.0.1:1080/files/24e5")!

/// The bytes a test uploaded.
let fileBytes = Data()

/// Where a request hook gets a fresh access token.
let tokens = TokenSource()

struct TokenSource: Sendable {
    func current() async throws -> String { "token" }
}

/// Where a response hook records what happened.
let metrics = Metrics()

struct Metrics: Sendable {
    func record(_ method: String, _ status: Int) {}
}

/// A value of any type, for the names below that cannot be made without a
/// server or a file.
func given<T>() -> T { fatalError("the documentation's snippets are compiled, never run") }

/// A client, as made in the guides.
let client = TusClient(url: URL(string: "https://tus.example/files/")!)

/// Upload options, as made in the guides.
let options = UploadOptions()

/// A store, as opened in the guides.
let store: any ListableStorage = given()

/// An upload URL, as a store keeps it.
let url = "https://tus.example/files/24e5"

/// A development server, started in a test.
let server: TusDevServer = given()

/// A file a test uploads, and the code under test that uploads it.
let file = "/data/video.mp4"
func upload(_ file: String, to endpoint: URL) async throws {}

/// The two parts of a parallel upload in a test, their bytes, and the final
/// upload that joined them.
let first: URL = given()
let second: URL = given()
let firstBytes = Data()
let secondBytes = Data()
let finalURL: URL = given()

/// A store of your own, as a conformance test makes it.
actor MyStorage: Storage {
    init(prefix: String) {}
    func url(forKey key: String) -> String? { nil }
    func setURL(_ url: String, forKey key: String) {}
    func removeURL(forKey key: String) {}
}
