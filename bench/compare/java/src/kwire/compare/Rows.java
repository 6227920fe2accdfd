package kwire.compare;

/** The API version of each row: the newest that every compared codec supports. */
final class Rows {
    static final short PRODUCE_VERSION = 13;
    static final short FETCH_VERSION = 18;
    static final short METADATA_VERSION = 13;
    static final short OFFSET_COMMIT_VERSION = 9;
    static final short JOIN_GROUP_VERSION = 9;
    static final short API_VERSIONS_VERSION = 4;

    private Rows() {}
}
