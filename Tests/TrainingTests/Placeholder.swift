import Testing

@Test func placeholderTraining() {}
