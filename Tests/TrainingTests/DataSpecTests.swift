import Testing
import Training

@Suite struct DataSpecTests {
    @Test func validForms() throws {
        #expect(try DataSpec.parse("shapes") == .shapes)
        #expect(try DataSpec.parse("mnist:/data/mnist") == .mnist(directory: "/data/mnist"))
        #expect(try DataSpec.parse("fashion-mnist:rel/dir") == .fashionMNIST(directory: "rel/dir"))
        // Only the first colon separates the kind from the directory.
        #expect(try DataSpec.parse("mnist:/a:b") == .mnist(directory: "/a:b"))
        #expect(try DataSpec.parse("cifar10:/data/c") == .cifar10(directory: "/data/c"))
    }

    @Test func tildeIsExpanded() throws {
        let spec = try DataSpec.parse("mnist:~/data")
        guard case .mnist(let directory) = spec else {
            Issue.record("expected .mnist, observed \(spec)")
            return
        }
        #expect(!directory.hasPrefix("~"), "observed \(directory)")
        #expect(directory.hasSuffix("/data"), "observed \(directory)")
    }

    @Test func invalidForms() {
        for text in [
            "", "mnist", "mnist:", "cifar100:/data", "cifar10:", "Shapes", "shapes:x", "fashion:/d",
        ] {
            expectDataError(
                containing: [
                    "'\(text)'", "expected shapes, mnist:DIR, fashion-mnist:DIR or cifar10:DIR",
                ]
            ) {
                try DataSpec.parse(text)
            }
        }
    }

    @Test func descriptionRoundTrips() throws {
        for spec in [
            DataSpec.shapes, .mnist(directory: "/x"), .fashionMNIST(directory: "/y z"),
            .cifar10(directory: "/c"),
        ] {
            #expect(try DataSpec.parse(spec.description) == spec)
        }
    }
}
