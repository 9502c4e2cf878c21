import Foundation
import Testing
import TusDevServer
import TusTestSupport

/// `tus upload -` sends standard input; TLS options fail in words.
@Suite struct UploadInputAndTLSOptionTests {
    @Test func aPipeIsUploadedAsAStreamAndSaysItCannotBeResumed() async throws {
        try await withDevServer { server, folder in
            let data = randomData(3_000_000)
            let path = folder.newPath("input.bin")
            try data.write(to: URL(fileURLWithPath: path))
            let store = folder.newPath("store.json")
            // A real pipe, as in `producer | tus upload -`.
            let command = "cat '\(path)' | '\(TestPaths.tusBinary)' upload - --endpoint \(server.endpoint.absoluteString) --store json:'\(store)' --chunk-size 1MiB"
            let result = try runProcess("/bin/sh", ["-c", command])
            #expect(result.status == 0, "\(result.stderr)")
            let lastLine = try #require(result.stdout.split(separator: "\n").last.map(String.init))
            let url = try #require(URL(string: lastLine))
            #expect(server.uploadedData(for: url) == data)
            #expect(result.stderr.contains("standard input is a stream: a later run cannot resume this upload"), "\(result.stderr)")
            // Streams are sent with Upload-Defer-Length, in several requests.
            #expect(server.requestLog.filter { $0.hasPrefix("PATCH") }.count >= 2)
            #expect(try runTus(["store", "list", "--store", "json:" + store]).stdout.isEmpty)
        }
    }

    @Test func aMissingCACertificateIsOneLineNamingTheFile() throws {
        let folder = try TemporaryFolder()
        let path = folder.newPath("upload.bin")
        try randomData(1000).write(to: URL(fileURLWithPath: path))
        let result = try runTus(["upload", path, "--endpoint", "https://127.0.0.1:1/files/", "--no-store", "--cacert", "/nonexistent/ca.pem"])
        #expect(result.status == 2)
        #expect(result.stderr == "tus: cannot read the CA certificates in /nonexistent/ca.pem: no such file\n", "\(result.stderr)")
    }

    @Test func insecureWarnsOnEveryRun() throws {
        let result = try runTus(["upload", "-", "--endpoint", "https://127.0.0.1:1/files/", "--no-store", "--insecure", "--retries", "0"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("tus: warning: --insecure: the server's certificate is not checked"), "\(result.stderr)")
        #expect(result.stderr.contains("cannot connect to 127.0.0.1:1"), "\(result.stderr)")
    }
}
