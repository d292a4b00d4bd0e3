import Testing

@Test func placeholderTUI() {}
