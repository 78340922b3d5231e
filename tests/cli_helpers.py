"""What every test of a CLI user error checks, shared by the CLI and config tests."""

from fastopt.cli import main


def one_line_error(capsys, argv) -> str:
    """Run ``main(argv)``: it must return 2, print nothing on stdout and one line on stderr."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    return err
