from tests.pg import make_postgres_fixture

postgres_server = make_postgres_fixture()
