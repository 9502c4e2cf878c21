import Foundation
import Testing
import TusTestSupport

@Suite struct TestCertificatesTests {
    private func openssl(_ arguments: [String]) throws -> ProcessResult {
        try runProcess("/usr/bin/openssl", arguments)
    }

    @Test func theSetIsMadeOnceAndEveryFileExists() throws {
        let certificates = try TestCertificates.shared()
        #expect(try TestCertificates.shared() === certificates)
        let files = [certificates.serverCA, certificates.server, certificates.expiredServer, certificates.wrongNameServer,
            certificates.clientCA, certificates.client].flatMap { [$0.certificate, $0.key] }
            + [certificates.clientIdentity, certificates.serverCABundle]
        for file in files {
            #expect(FileManager.default.fileExists(atPath: file), "\(file)")
        }
    }

    @Test func theServerCertificatesChainToTheServerCAAndOnlyTheExpiredOneFails() throws {
        let certificates = try TestCertificates.shared()
        for good in [certificates.server, certificates.wrongNameServer] {
            let verified = try openssl(["verify", "-CAfile", certificates.serverCABundle, good.certificate])
            #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        }
        let expired = try openssl(["verify", "-CAfile", certificates.serverCABundle, certificates.expiredServer.certificate])
        #expect(expired.status != 0)
        #expect((expired.stdout + expired.stderr).contains("certificate has expired"))
    }

    @Test func theNamesAreTheOnesTheTestsNeed() throws {
        let certificates = try TestCertificates.shared()
        let names = try openssl(["x509", "-noout", "-ext", "subjectAltName", "-in", certificates.server.certificate])
        #expect(names.stdout.contains("IP Address:127.0.0.1"))
        #expect(names.stdout.contains("DNS:localhost"))
        let wrong = try openssl(["x509", "-noout", "-ext", "subjectAltName", "-in", certificates.wrongNameServer.certificate])
        #expect(wrong.stdout.contains("DNS:wrong.example"))
        #expect(!wrong.stdout.contains("127.0.0.1") && !wrong.stdout.contains("localhost"))
    }

    @Test func theClientChainsToTheClientCAOnly() throws {
        let certificates = try TestCertificates.shared()
        let verified = try openssl(
            ["verify", "-CAfile", certificates.clientCA.certificate, "-purpose", "sslclient", certificates.client.certificate])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        let wrongCA = try openssl(["verify", "-CAfile", certificates.serverCABundle, certificates.client.certificate])
        #expect(wrongCA.status != 0)
        // The identity file holds the certificate and its key.
        let identity = try String(contentsOfFile: certificates.clientIdentity, encoding: .utf8)
        #expect(identity.contains("BEGIN CERTIFICATE") && identity.contains("PRIVATE KEY"))
    }

    @Test func opensslsOwnMessageComesWithAFailure() throws {
        let folder = try TemporaryFolder()
        // A folder that is not there: the first openssl step cannot write its key.
        #expect {
            try TestCertificates(directory: folder.path + "/missing")
        } throws: { error in
            // The step that failed, then openssl's own words.
            let message = "\(error)"
            return error is FixtureError && message.hasPrefix("openssl req -x509 failed") && message.contains("Can't open")
        }
    }
}
