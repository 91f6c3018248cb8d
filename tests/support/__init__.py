"""What several test suites share (drivers, fixtures' builders, fakes): imported as
`tests.support.<module>`, never by path."""
