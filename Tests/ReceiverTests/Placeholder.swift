// ReceiverTests
