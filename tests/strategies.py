"""Hypothesis strategies shared by the property tests that throw arbitrary bodies at our
endpoints."""

from hypothesis import strategies as st


def json_values(samples, *, text_size=40, width=4, max_leaves=12):
    """Arbitrary JSON values whose leaves are sometimes one of `samples`: values that get
    past the first checks reach deeper code than random text would."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=text_size)
        | st.sampled_from(samples)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=width)
            | st.dictionaries(st.text(max_size=text_size), inner, max_size=width)
        ),
        max_leaves=max_leaves,
    )
