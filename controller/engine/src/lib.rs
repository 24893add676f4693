//! Sans-IO decision core: snapshot in, decisions out.
